// The OpenAPI 3.1 document: the route table's public routes with their operations (infra/definitions/
// operations.ts), the zod schemas turned into JSON Schema, and the error answers each kind of route can give.
// scripts/openapi.ts writes it to docs/openapi.json, which GET /openapi.json serves.
import * as z from 'zod/mini';
import { type Operation, operations, type Schema } from '#infra/definitions/operations.ts';
import { type Route, routeKey, routes } from '#infra/definitions/routes.ts';
import { ROUTE_ROLES } from '#shared/auth/route-roles.ts';

type Json = Record<string, unknown>;

/**
 * Paths that are not the public API and never in the document: the catch-all (any other path answers 404
 * `not_found`), and what only `npm start` serves: its controls, the emulators, the health check and the
 * dashboard's files. Tests skip response validation for exactly these.
 */
export const CATCH_ALL_PATH = '/{proxy+}';
const LOCAL_ONLY = [
  /^\/__local\//,
  /^\/__marketplace\//,
  /^\/health$/,
  /^\/$/,
  /^\/index\.html$/,
  /^\/assets\//,
];

export function isOutsideContract(path: string): boolean {
  return LOCAL_ONLY.some((pattern) => pattern.test(path));
}

/**
 * The contract's refusal codes by status (API.md, "Errors"). Each route's answers list the codes it can give
 * (these, narrowed by what the route does, plus its own `refusals`); a body with another code fails validation.
 */
export const errorCodes: Record<number, string[]> = {
  400: ['invalid_request'],
  401: ['unauthorized', 'token_expired', 'customer_unauthorized'],
  402: ['insufficient_credits', 'spend_limit_reached', 'token_limit_reached', 'invoice_overdue'],
  403: ['forbidden', 'subscription_inactive'],
  404: ['not_found'],
  409: [
    'idempotency_key_reused',
    'idempotency_request_in_progress',
    'idempotency_answer_too_large',
    'no_payment_method',
    'wrong_billing_mode',
    'too_many_tokens',
    'insufficient_balance',
    'already_member',
    'last_owner',
    'too_many_members',
    'member_changed',
  ],
  413: ['payload_too_large'],
  429: ['rate_limited'],
  500: ['internal_error'],
  502: ['upstream_error'],
  503: ['temporarily_unavailable'],
  504: ['upstream_timeout'],
};

const errorMeaning: Record<number, string> = {
  400: 'Malformed JSON, wrong types or out-of-range values; `details` names each field',
  401: 'Missing, unknown, malformed, revoked or expired credentials',
  402: 'Billing denial: nothing was charged and the feature did not run',
  403: 'Not allowed',
  404: 'Unknown route or resource, or a resource of another account',
  409: 'State conflict',
  413: 'The body is larger than the route accepts',
  429:
    'Too many requests: a token past its rate limit (`rate_limited`, with `retry-after`), or the deployment ' +
    'past its stage throttle (API Gateway’s own answer); never charged',
  500: 'Internal error: safe to retry with the same Idempotency-Key',
  502: 'The upstream answered 5xx, broke the connection or reported an invalid usage quantity; not charged',
  503:
    'A service this route depends on is unavailable, or the account is writing faster than its records can ' +
    'take: retry after `retry-after` seconds, with the same Idempotency-Key (a request is charged at most once)',
  504: 'The upstream did not answer within the route’s timeout; not charged',
};

/**
 * A proxied route answers whatever its upstream does (any body, any content type): described as such, since
 * the gateway cannot know the upstream's schema. Its own refusals keep the contract's shape, but an upstream
 * 4xx with the same status passes through too.
 */
const upstreamBody = { description: 'The upstream’s own answer, passed through' };

function jsonSchema(schema: Schema, io: 'input' | 'output'): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  return rest;
}

/** The error body with the codes given; `invalid_request` always names the fields (`details`). */
function errorSchema(codes: string[]): Json {
  const validation = codes.includes('invalid_request');
  const details = {
    type: 'array',
    description: 'With `invalid_request`: each field and its problem',
    items: {
      type: 'object',
      properties: { field: { type: 'string' }, problem: { type: 'string' } },
      required: ['field', 'problem'],
      additionalProperties: false,
    },
  };
  const originalStatus = {
    type: 'integer',
    description:
      'With `idempotency_answer_too_large`: the status of the first answer, which ran (and was charged, ' +
      'see `x-cost`) once',
  };
  return {
    type: 'object',
    properties: {
      error: { type: 'string', description: 'A sentence for people' },
      code: { type: 'string', enum: codes },
      ...(validation ? { details } : {}),
      ...(codes.includes('idempotency_answer_too_large') ? { original_status: originalStatus } : {}),
    },
    required: ['error', 'code'],
    ...(validation
      ? {
          anyOf: [{ properties: { code: { not: { const: 'invalid_request' } } } }, { required: ['details'] }],
        }
      : {}),
    additionalProperties: false,
  };
}

/** API Gateway's own answers (IAM refusals in the cloud, a function that timed out or crashed). */
const gatewayMessage = {
  type: 'object',
  properties: { message: { type: 'string' } },
  required: ['message'],
  additionalProperties: false,
};

/** Which refusals a route can give follows from what it does: authenticate, validate, charge, take keys. */
function refusalsOf(route: Route, operation: Operation): Map<number, string[]> {
  const refusals = new Map<number, string[]>();
  const add = (status: number, codes: string[] = errorCodes[status] ?? []) =>
    refusals.set(status, [...new Set([...(refusals.get(status) ?? []), ...codes])]);
  if (route.auth === 'token') {
    add(401, ['unauthorized', 'token_expired']);
    add(403, ['forbidden']);
    add(429, ['rate_limited']);
  }
  if (route.auth === 'iam') {
    add(401, ['unauthorized']);
    add(403, ['forbidden']);
  }
  if (route.auth === 'service') add(401, ['unauthorized']);
  if (operation.body || operation.form) add(413);
  // A form is read by the route itself (its refusals name their own codes), not by the JSON body parser.
  if (operation.body || operation.query || operation.path || operation.idempotent) add(400);
  if (operation.path || route.auth === 'iam') add(404);
  if (operation.idempotent) add(409, ['idempotency_key_reused', 'idempotency_request_in_progress']);
  // Only an upstream's answer can outgrow what an Idempotency-Key keeps for replays.
  if (operation.idempotent && operation.proxied) add(409, ['idempotency_answer_too_large']);
  if (operation.paid || operation.proxied || operation.charges) {
    add(402);
    add(403, ['subscription_inactive']);
  }
  if (operation.proxied) {
    add(502);
    add(504);
  }
  for (const [status, codes] of Object.entries(operation.refusals ?? {})) add(Number(status), codes);
  add(500);
  // Any DynamoDB write can meet a partition at its write limit (a hot account).
  add(503);
  return refusals;
}

const requestIdHeader = { $ref: '#/components/headers/RequestId' };
const retryAfterHeader = { $ref: '#/components/headers/RetryAfter' };

function refusal(route: Route, operation: Operation, status: number, codes: string[]): Json {
  const contract = errorSchema(codes);
  // IAM refusals and function failures come from API Gateway itself, in its own shape.
  // The stage throttle's 429 is API Gateway's too, on any route.
  const gateway = status === 500 || status === 429 || (status === 403 && route.auth === 'iam');
  const passed = operation.proxied && status < 500;
  // A proxied route's 429 may be any of the three: the token's rate limit, the stage throttle, the upstream's.
  const alternatives = [contract, ...(gateway ? [gatewayMessage] : []), ...(passed ? [upstreamBody] : [])];
  const schema = alternatives.length === 1 ? contract : { anyOf: alternatives };
  const content: Json = { 'application/json': { schema } };
  if (passed) content['*/*'] = { schema: upstreamBody };
  if (operation.answers[200]?.html && status < 500) content['text/html'] = { schema: { type: 'string' } };
  const headers: Json = { 'x-request-id': requestIdHeader };
  if (status === 503 || status === 429) headers['retry-after'] = retryAfterHeader;
  return {
    description: `${errorMeaning[status] ?? 'Refused'} (${codes.map((code) => `\`${code}\``).join(', ')})`,
    headers,
    content,
  };
}

function answer(operation: Operation, status: number): Json {
  const given = operation.answers[status]!;
  const content: Json = {};
  if (given.json) content['application/json'] = { schema: jsonSchema(given.json, 'output') };
  if (given.html) content['text/html'] = { schema: { type: 'string' } };
  const headers: Json = { 'x-request-id': requestIdHeader };
  if (operation.paid && status === 200)
    headers['x-credits-remaining'] = { $ref: '#/components/headers/CreditsRemaining' };
  return { description: given.description, headers, ...(Object.keys(content).length ? { content } : {}) };
}

function parameters(location: 'path' | 'query', schema: Schema | undefined): Json[] {
  if (!schema) return [];
  const object = jsonSchema(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (object.required ?? []).includes(name),
    schema: property,
  }));
}

function operationId(route: Route): string {
  const words = route.path
    .split('/')
    .filter(Boolean)
    .map((part) => (part.startsWith('{') ? `by-${part.slice(1, -1)}` : part))
    .flatMap((part) => part.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return [route.method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join('');
}

function security(route: Route, operation: Operation): Json[] {
  if (route.auth === 'token') {
    const bearer = { bearerToken: operation.scope ? [operation.scope] : [] };
    // A dashboard session may call it too when the route table gives it a role (shared/auth/route-roles.ts).
    return ROUTE_ROLES[routeKey(route)] ? [bearer, { sessionCookie: [] }] : [bearer];
  }
  if (operation.session) return [{ sessionCookie: [] }];
  if (route.auth === 'service') return [{ serviceKey: [] }];
  if (route.auth === 'iam') return [{ awsSigV4: [] }, { localAdminKey: [] }];
  return [];
}

function describedOperation(route: Route, operation: Operation): Json {
  const responses: Json = {};
  for (const [status, codes] of refusalsOf(route, operation)) {
    responses[status] = refusal(route, operation, status, codes);
  }
  for (const status of Object.keys(operation.answers)) responses[status] = answer(operation, Number(status));
  if (operation.proxied) {
    const headers = {
      'x-request-id': requestIdHeader,
      'x-cost': { $ref: '#/components/headers/Cost' },
      'x-credits-remaining': { $ref: '#/components/headers/CreditsRemaining' },
    };
    const content = { '*/*': { schema: upstreamBody } };
    responses['2XX'] = {
      description:
        'The upstream’s answer, charged; a JSON object gains a top-level `cost` (USD) unless it has one',
      headers,
      content,
    };
    responses['4XX'] = {
      description: 'The upstream refused the request: its answer passed through, not charged (`x-cost: 0`)',
      headers,
      content,
    };
  }
  const idempotencyKey = operation.idempotent
    ? [
        {
          $ref:
            operation.idempotent === 'required'
              ? '#/components/parameters/IdempotencyKeyRequired'
              : '#/components/parameters/IdempotencyKey',
        },
      ]
    : [];
  const body = operation.body
    ? { 'application/json': { schema: jsonSchema(operation.body, 'input') } }
    : operation.form
      ? { 'application/x-www-form-urlencoded': { schema: jsonSchema(operation.form, 'input') } }
      : undefined;
  const role = route.auth === 'token' ? ROUTE_ROLES[routeKey(route)] : undefined;
  const roleNote = role
    ? `Dashboard session: the \`${role}\` role or above (and \`x-requested-with: credits-dashboard\` unless GET).`
    : role === null
      ? 'API tokens only: a dashboard session is refused (403).'
      : undefined;
  const described = [operation.description, roleNote].filter(Boolean).join(' ');
  return {
    operationId: operationId(route),
    tags: [operation.tag],
    summary: operation.summary,
    ...(described ? { description: described } : {}),
    security: security(route, operation),
    parameters: [
      ...parameters('path', operation.path),
      ...parameters('query', operation.query),
      ...idempotencyKey,
    ],
    ...(body ? { requestBody: { required: true, content: body } } : {}),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b))),
  };
}

const description = `Prepaid-credit billing for pay-per-use APIs.

Money is USD: a JSON number with at most 6 decimal places. Times are ISO 8601 UTC. Every response carries
\`x-request-id\`; ledger entries a request creates record it. Refusals have the shape
\`{"error": "<sentence>", "code": "<machine_code>"}\` (\`invalid_request\` adds \`details\`: the field problems). A path this
document does not list answers 404 \`not_found\` in that shape.

Customer routes take \`Authorization: Bearer <token>\` with the scope each names (\`billing\` can do all
\`api\` can), or the billing dashboard's session cookie (from the email sign-in under \`/auth\`) with the
role each names. The metering API (\`/v1/meter\`) takes the operator's service keys (\`svc_…\`) instead.
Operator routes under \`/admin\` are authorised by AWS IAM (SigV4) when deployed; under
\`npm start\` by the header \`x-admin-key: <ADMIN_API_KEY>\` instead.`;

export function openApiDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    if (route.path === CATCH_ALL_PATH) continue;
    const operation = operations[routeKey(route)];
    if (!operation) throw new Error(`${routeKey(route)} has no entry in infra/definitions/operations.ts`);
    paths[route.path] = {
      ...paths[route.path],
      [route.method.toLowerCase()]: describedOperation(route, operation),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Credits billing API', version: '1', description },
    tags: [...new Set(Object.values(operations).map((operation) => operation.tag))].map((name) => ({ name })),
    paths,
    components: {
      // Any refusal of any route, and the catch-all's 404: what a client can read from every error.
      schemas: { Error: errorSchema([...new Set(Object.values(errorCodes).flat())]) },
      headers: {
        RequestId: {
          description: 'This request’s id (`req_…`); ledger entries it creates record it',
          required: true,
          schema: { type: 'string' },
        },
        Cost: {
          description: 'Proxied routes: the USD charged for this call (`0` when not charged)',
          required: true,
          schema: { type: 'string' },
        },
        CreditsRemaining: {
          description: 'Prepaid accounts: the available balance after this call, USD',
          schema: { type: 'string' },
        },
        RetryAfter: {
          description: 'Seconds to wait before retrying (`temporarily_unavailable`, `rate_limited`)',
          schema: { type: 'string', pattern: '^[0-9]+$' },
        },
      },
      parameters: {
        IdempotencyKey: {
          name: 'idempotency-key',
          in: 'header',
          required: false,
          description:
            'Same key and body: the first answer is replayed and nothing is charged twice. Same key, another ' +
            'body: 409 `idempotency_key_reused`. 1-255 visible ASCII characters; kept at least 24 hours.',
          schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
        },
        IdempotencyKeyRequired: {
          name: 'idempotency-key',
          in: 'header',
          required: true,
          description:
            'Required (400 without): the call is charged once however often it is retried with this key. Same ' +
            'key, another body: 409 `idempotency_key_reused`. 1-255 visible ASCII characters; kept at least 24 ' +
            'hours, and the charge it made is permanent.',
          schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
        },
      },
      securitySchemes: {
        bearerToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API token (`api` or `billing` scope), shown once when created',
        },
        serviceKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A service key (`svc_…`) from POST /admin/service-keys: the operator’s own backends call the metering ' +
            'API with it. Customers’ tokens are refused there, and service keys everywhere else.',
        },
        awsSigV4: {
          type: 'apiKey',
          in: 'header',
          name: 'authorization',
          description:
            'Deployed: AWS IAM. Sign the request with Signature Version 4 (service `execute-api`) as a principal ' +
            'allowed to invoke the /admin routes.',
        },
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: '__Host-credits_session',
          description:
            'The billing dashboard’s session, set by GET /auth/callback (`credits_session` under `npm start`). ' +
            'Each route allows the roles its description names; requests other than GET also need the header ' +
            '`x-requested-with: credits-dashboard`. A request with an Authorization header is a token request.',
        },
        localAdminKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-admin-key',
          description: 'Local mode (`npm start`) only: the ADMIN_API_KEY the stack printed or was given',
        },
      },
    },
  };
}
