// docs/api.md: the human reference, rendered from the OpenAPI document so the two never disagree.
type Json = Record<string, unknown>;
type SchemaObject = {
  type?: string | string[];
  properties?: Record<string, SchemaObject>;
  required?: string[];
  items?: SchemaObject;
  anyOf?: SchemaObject[];
  oneOf?: SchemaObject[];
  enum?: unknown[];
  const?: unknown;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  pattern?: string;
  additionalProperties?: SchemaObject | boolean;
  $ref?: string;
};

function typeOf(schema: SchemaObject): string {
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum) return schema.enum.map((value) => `\`${JSON.stringify(value)}\``).join(' \\| ');
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return union.map(typeOf).join(' \\| ');
  if (schema.$ref) return schema.$ref.split('/').at(-1) ?? 'object';
  if (schema.type === 'array' && schema.items) return `array of ${typeOf(schema.items)}`;
  if (schema.type === 'object' && !schema.properties && typeof schema.additionalProperties === 'object') {
    return `map of ${typeOf(schema.additionalProperties)}`;
  }
  if (Array.isArray(schema.type)) return schema.type.join(' \\| ');
  return schema.type ?? 'any';
}

function notes(schema: SchemaObject): string {
  const parts: string[] = [];
  if (schema.description) parts.push(schema.description);
  if (schema.default !== undefined) parts.push(`default \`${JSON.stringify(schema.default)}\``);
  if (schema.minimum !== undefined && schema.minimum > Number.MIN_SAFE_INTEGER)
    parts.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER)
    parts.push(`≤ ${schema.maximum}`);
  if (schema.maxLength !== undefined) parts.push(`at most ${schema.maxLength} characters`);
  if (schema.pattern) parts.push(`matches \`${schema.pattern}\``);
  return parts.join('; ').replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** One row per field, nested objects (and arrays of them) flattened with dotted names. */
function fieldRows(schema: SchemaObject, prefix = ''): string[] {
  const object = schema.type === 'array' && schema.items ? schema.items : schema;
  const variants = object.anyOf ?? object.oneOf;
  if (variants?.some((variant) => variant.properties)) {
    return variants.flatMap((variant) => fieldRows(variant, prefix));
  }
  const rows: string[] = [];
  for (const [name, field] of Object.entries(object.properties ?? {})) {
    const path = `${prefix}${name}`;
    const required = (object.required ?? []).includes(name) ? 'yes' : 'no';
    rows.push(`| \`${path}\` | ${typeOf(field)} | ${required} | ${notes(field)} |`);
    const inner = field.type === 'array' ? field.items : (field.anyOf?.find((v) => v.properties) ?? field);
    if (inner?.properties) rows.push(...fieldRows(inner, `${path}${field.type === 'array' ? '[]' : ''}.`));
  }
  return rows;
}

function fieldTable(schema: SchemaObject): string[] {
  const rows = fieldRows(schema);
  if (!rows.length) return [`Type: ${typeOf(schema)}.`, ''];
  return ['| field | type | required | notes |', '|---|---|---|---|', ...rows, ''];
}

export function renderReference(document: Json): string {
  const info = document.info as { title: string; description: string };
  const paths = document.paths as Record<string, Record<string, Json>>;
  const lines = [
    `# ${info.title}`,
    '',
    '<!-- Generated from docs/openapi.json by `npm run openapi`; edit the operations, not this file. -->',
    '',
    info.description,
    '',
    'The machine-readable document is [`openapi.json`](openapi.json), also served at `GET /openapi.json`.',
    '',
  ];
  const tags = (document.tags as { name: string }[]).map((tag) => tag.name);
  for (const tag of tags) {
    lines.push(`## ${tag}`, '');
    for (const [path, item] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!(operation.tags as string[]).includes(tag)) continue;
        lines.push(`### \`${method.toUpperCase()} ${path}\``, '', String(operation.summary), '');
        if (operation.description) lines.push(String(operation.description), '');
        const security = operation.security as Record<string, string[]>[];
        const bearer = security.find((requirement) => requirement.bearerToken)?.bearerToken;
        if (bearer) lines.push(`Auth: bearer token, scope \`${bearer[0] ?? 'api'}\`.`, '');
        else if (security.some((requirement) => requirement.awsSigV4)) {
          lines.push('Auth: AWS IAM (SigV4) when deployed; `x-admin-key` under `npm start`.', '');
        } else lines.push('Auth: none.', '');
        const parameters = (operation.parameters as (Json & { $ref?: string })[]).filter((p) => !p.$ref);
        if (parameters.length) {
          lines.push('| parameter | in | type | required | notes |', '|---|---|---|---|---|');
          for (const parameter of parameters) {
            const schema = parameter.schema as SchemaObject;
            lines.push(
              `| \`${parameter.name}\` | ${parameter.in} | ${typeOf(schema)} | ${parameter.required ? 'yes' : 'no'} | ${notes(schema)} |`,
            );
          }
          lines.push('');
        }
        if ((operation.parameters as Json[]).some((p) => p.$ref)) {
          lines.push(
            'Takes `Idempotency-Key`: a retry with the same key and body is answered, not repeated.',
            '',
          );
        }
        const body = (
          operation.requestBody as { content: Record<string, { schema: SchemaObject }> } | undefined
        )?.content;
        for (const [type, media] of Object.entries(body ?? {})) {
          lines.push(`Request body (\`${type}\`):`, '', ...fieldTable(media.schema));
        }
        lines.push('| status | meaning |', '|---|---|');
        const responses = operation.responses as Record<
          string,
          { description: string; content?: Json; headers?: Json }
        >;
        for (const [status, response] of Object.entries(responses)) {
          const types = Object.keys(response.content ?? {}).join(', ');
          // x-request-id is on every answer (the introduction says so); name only the others.
          const headers = Object.keys(response.headers ?? {}).filter((name) => name !== 'x-request-id');
          const extra = headers.length ? `; headers ${headers.map((name) => `\`${name}\``).join(', ')}` : '';
          lines.push(
            `| ${status} | ${response.description.replaceAll('|', '\\|')}${types ? ` (${types}${extra})` : ''} |`,
          );
        }
        lines.push('');
        for (const [status, response] of Object.entries(responses)) {
          const schema = (response.content?.['application/json'] as { schema?: SchemaObject } | undefined)
            ?.schema;
          if (Number(status) >= 300 || !schema) continue;
          lines.push(`${status} body:`, '', ...fieldTable(schema));
        }
      }
    }
  }
  lines.push(
    '## Errors',
    '',
    'Every refusal is `{"error": "<sentence>", "code": "<machine_code>"}`; `invalid_request` adds `details`, a',
    'list of `{"field", "problem"}`. The codes each status carries across the API (each route lists its own):',
    '',
    '| status | codes |',
    '|---|---|',
  );
  const codesByStatus = new Map<string, Set<string>>();
  for (const item of Object.values(paths)) {
    for (const operation of Object.values(item)) {
      for (const [status, response] of Object.entries(operation.responses as Record<string, Json>)) {
        const schema = (response.content as Record<string, { schema: SchemaObject }> | undefined)?.[
          'application/json'
        ]?.schema;
        const refusal = schema?.anyOf?.[0] ?? schema;
        const code = refusal?.properties?.code;
        const codes = (
          Number(status) >= 400 ? (code?.enum ?? (code?.const ? [code.const] : [])) : []
        ) as string[];
        if (!codes.length) continue;
        codesByStatus.set(status, new Set([...(codesByStatus.get(status) ?? []), ...codes]));
      }
    }
  }
  for (const [status, codes] of [...codesByStatus].sort(([a], [b]) => Number(a) - Number(b))) {
    lines.push(`| ${status} | ${[...codes].map((code) => `\`${code}\``).join(', ')} |`);
  }
  lines.push('');
  return `${lines.join('\n')}\n`;
}
