// The OpenAPI document: valid OpenAPI 3.1, generated from the code (the committed files are current), naming
// exactly the route table's public routes, strict about answers; and the checker every suite's answers pass.
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { operations } from '#infra/definitions/operations.ts';
import { routeKey, routes } from '#infra/definitions/routes.ts';
import { CATCH_ALL_PATH, openApiDocument } from '#infra/openapi/document.ts';
import { generatedFiles } from '#infra/openapi/files.ts';
import { assertDescribed, type ReceivedAnswer } from '../support/contract.ts';

const root = new URL('../../', import.meta.url);
const document = openApiDocument();

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('is committed as generated: docs/openapi.json, docs/api.md and client/openapi.ts (npm run openapi)', async () => {
    for (const [path, content] of Object.entries(await generatedFiles())) {
      expect(readFileSync(new URL(path, root), 'utf8'), `${path} is stale: run npm run openapi`).toBe(
        content,
      );
    }
  });

  it('describes exactly the public routes of the route table', () => {
    const publicRoutes = routes.filter((route) => route.path !== CATCH_ALL_PATH).map(routeKey);
    expect(Object.keys(operations).sort()).toEqual(publicRoutes.sort());
    const described = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(described.sort()).toEqual(publicRoutes.sort());
  });

  it('forbids undocumented fields in every answer object', () => {
    const loose: string[] = [];
    const walk = (node: unknown, where: string) => {
      if (!node || typeof node !== 'object') return;
      const schema = node as Record<string, unknown>;
      if (schema.type === 'object' && schema.properties && schema.additionalProperties !== false)
        loose.push(where);
      for (const [key, value] of Object.entries(schema)) walk(value, `${where}/${key}`);
    };
    for (const [path, item] of Object.entries(
      document.paths as Record<string, Record<string, { responses: object }>>,
    )) {
      for (const [method, operation] of Object.entries(item)) walk(operation.responses, `${method} ${path}`);
    }
    // The document itself is the one open object: it may grow fields.
    expect(loose).toEqual(['get /openapi.json/200/content/application/json/schema']);
  });
});

describe('checking an answer against the document', () => {
  const credits = { balance: 1, available: 1, held: 0, currency: 'USD', billing_mode: 'prepaid' };
  const answer = (overrides: Partial<ReceivedAnswer>): ReceivedAnswer => ({
    method: 'GET',
    path: '/v1/credits',
    status: 200,
    header: (name) => ({ 'content-type': 'application/json', 'x-request-id': 'req_1' })[name],
    body: credits,
    ...overrides,
  });

  it('passes an answer the document describes', () => {
    expect(() => assertDescribed(answer({}))).not.toThrow();
  });

  it('fails a field the document does not list', () => {
    expect(() => assertDescribed(answer({ body: { ...credits, secret: 'x' } }))).toThrow(/additional/);
  });

  it('fails a status the operation does not list', () => {
    expect(() => assertDescribed(answer({ status: 418 }))).toThrow(/no 418/);
  });

  it('fails an answer without x-request-id', () => {
    expect(() =>
      assertDescribed(
        answer({ header: (name) => (name === 'content-type' ? 'application/json' : undefined) }),
      ),
    ).toThrow(/x-request-id/);
  });

  it('fails an error code the contract does not name', () => {
    expect(() => assertDescribed(answer({ status: 401, body: { error: 'no', code: 'nope' } }))).toThrow(
      /allowed/,
    );
  });

  it('fails an invalid_request that does not name the fields', () => {
    const refused = { method: 'GET', path: '/v1/transactions', status: 400 };
    const body = { error: 'Invalid request', code: 'invalid_request' };
    expect(() => assertDescribed(answer({ ...refused, body }))).toThrow(/details/);
    expect(() => assertDescribed(answer({ ...refused, body: { ...body, details: [] } }))).not.toThrow();
  });

  it('accepts only the 404 body on a route the document does not list', () => {
    const notFound = { error: 'Not found', code: 'not_found' };
    expect(() => assertDescribed(answer({ path: '/v1/nothing', status: 404, body: notFound }))).not.toThrow();
    expect(() => assertDescribed(answer({ method: 'DELETE', status: 404, body: notFound }))).not.toThrow();
    expect(() => assertDescribed(answer({ path: '/v1/nothing', status: 200 }))).toThrow(/not in the OpenAPI/);
  });

  it('skips what only the local stack serves', () => {
    expect(() =>
      assertDescribed(answer({ path: '/__local/clock', status: 200, body: { now: 1 } })),
    ).not.toThrow();
  });
});
