// Every answer the e2e and integration suites receive is checked against the OpenAPI document (docs/openapi.json,
// the one GET /openapi.json serves): its status, content type, required headers and body. An answer the
// document does not describe fails the test that received it.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { isOutsideContract } from '#infra/openapi/document.ts';
import document from '../../docs/openapi.json' with { type: 'json' };

type Json = Record<string, unknown>;
type Response = { content?: Record<string, { schema: Json }>; headers?: Record<string, { $ref: string }> };
type Operation = { responses: Record<string, Response> };

// Not strict: the document's OpenAPI keywords around the schemas are not JSON Schema keywords.
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(document, 'openapi');

const components = document.components as unknown as { headers: Record<string, { required?: boolean }> };
const paths = document.paths as unknown as Record<string, Record<string, Operation>>;

/** Literal paths before templated ones, so `/v1/billing/purchases` never matches `{id}`. */
const templates = Object.keys(paths)
  .sort((a, b) => Number(a.includes('{')) - Number(b.includes('{')))
  .map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));

const validators = new Map<string, ValidateFunction>();

function validatorAt(pointer: string): ValidateFunction {
  let validate = validators.get(pointer);
  if (!validate) {
    validate = ajv.getSchema(`openapi#${pointer}`);
    if (!validate) throw new Error(`the document has no schema at ${pointer}`);
    validators.set(pointer, validate);
  }
  return validate;
}

const pointerSegment = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

export type ReceivedAnswer = {
  method: string;
  /** The request path, query string allowed. */
  path: string;
  status: number;
  header: (name: string) => string | null | undefined;
  /** The body parsed when it is JSON, else its text (undefined when empty). */
  body: unknown;
};

/** Throws, naming what differs, when the document does not describe this answer. */
export function assertDescribed(answer: ReceivedAnswer): void {
  const path = answer.path.split('?')[0]!;
  if (isOutsideContract(path)) return;
  const where = `${answer.method} ${path} → ${answer.status}`;
  const template = templates.find(({ pattern }) => pattern.test(path))?.template;
  const operation = template ? paths[template]?.[answer.method.toLowerCase()] : undefined;
  if (!template || !operation) {
    // Any other route is the catch-all's: the contract's 404 body and nothing else.
    if (answer.status !== 404) throw new Error(`${where}: not in the OpenAPI document`);
    check(validatorAt('/components/schemas/Error'), answer.body, where);
    if ((answer.body as { code?: unknown }).code !== 'not_found')
      throw new Error(`${where}: not the 404 body`);
    return;
  }
  // An exact status first, then its range (a proxied route's upstream answers: 2XX, 4XX).
  const response =
    operation.responses[String(answer.status)] ?? operation.responses[`${String(answer.status)[0]}XX`];
  if (!response) throw new Error(`${where}: the document lists no ${answer.status} for this operation`);
  for (const [name, header] of Object.entries(response.headers ?? {})) {
    const component = components.headers[header.$ref.split('/').at(-1)!];
    if (component?.required && !answer.header(name)) throw new Error(`${where}: header ${name} is missing`);
  }
  const contentType = answer.header('content-type')?.split(';')[0]?.trim();
  if (!response.content) {
    if (answer.body !== undefined && answer.body !== '')
      throw new Error(`${where}: a body where none is described`);
    return;
  }
  // `*/*`: a proxied route passes its upstream's answer through, whatever its type.
  const media = (contentType ? response.content[contentType] : undefined) ?? response.content['*/*'];
  if (!media) {
    throw new Error(
      `${where}: content type ${contentType} is not one of ${Object.keys(response.content).join(', ')}`,
    );
  }
  const status = operation.responses[String(answer.status)]
    ? String(answer.status)
    : `${String(answer.status)[0]}XX`;
  const mediaType = contentType && response.content[contentType] ? contentType : '*/*';
  const pointer = `/paths/${pointerSegment(template)}/${answer.method.toLowerCase()}/responses/${status}/content/${pointerSegment(mediaType)}/schema`;
  check(validatorAt(pointer), answer.body, where);
}

function check(validate: ValidateFunction, body: unknown, where: string): void {
  if (validate(body)) return;
  const problems = (validate.errors ?? []).map(
    (e) => `${e.instancePath || '(body)'} ${e.message} ${JSON.stringify(e.params)}`,
  );
  throw new Error(
    `${where}: the body does not match the OpenAPI document:\n  ${problems.join('\n  ')}\n  body: ${JSON.stringify(body)}`,
  );
}
