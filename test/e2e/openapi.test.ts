// GET /openapi.json over HTTP against the local stack, and the typed client (openapi-fetch over the generated
// types) driving a customer's whole flow through it: every answer is checked against the document.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { typedClient } from '../support/http.ts';
import { useLocalStack } from '../support/stack.ts';

const ADMIN_KEY = 'e2e-openapi-admin-key';
const stackOf = useLocalStack('e2e-openapi', { adminApiKey: ADMIN_KEY });

describe('GET /openapi.json', () => {
  it('serves the committed document without a token, and it is valid OpenAPI 3.1', async () => {
    const response = await fetch(`${stackOf().url}/openapi.json`);
    const served = (await response.json()) as Record<string, unknown>;

    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(served).toEqual(
      JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')),
    );
    expect((await new Validator().validate(served)).valid).toBe(true);
  });
});

describe('the typed client', () => {
  it('opens an account, charges a call once under a retried key, and reads the money back', async () => {
    const operator = typedClient(stackOf().url, { adminKey: ADMIN_KEY });
    const opened = await operator.POST('/admin/accounts', { body: { name: 'Typed client' } });
    const accountId = opened.data!.account_id;
    const customer = typedClient(stackOf().url, { token: opened.data!.token! });
    await operator.POST('/admin/accounts/{id}/credits', {
      params: { path: { id: accountId } },
      body: { amount: 1, reason: 'typed client test' },
    });

    const key = { 'idempotency-key': randomUUID() };
    const first = await customer.POST('/v1/demo/echo', { params: { header: key }, body: { text: 'hi' } });
    const retry = await customer.POST('/v1/demo/echo', { params: { header: key }, body: { text: 'hi' } });
    const credits = await customer.GET('/v1/credits');
    const page = await customer.GET('/v1/transactions', { params: { query: { limit: 10 } } });

    expect(opened.response.status).toBe(201);
    expect(first.data).toEqual({ results: { echo: 'hi' }, cost: 0.002 });
    expect(first.response.headers.get('x-credits-remaining')).toBe('0.998');
    expect(retry.data).toEqual(first.data);
    expect(credits.data).toMatchObject({ balance: 0.998, available: 0.998, billing_mode: 'prepaid' });
    expect(page.data?.data.map((entry) => [entry.type, entry.amount])).toEqual([
      ['usage', -0.002],
      ['grant', 1],
    ]);
  });

  it('answers refusals as the typed error body', async () => {
    const stranger = typedClient(stackOf().url, { token: 'crd_unknown' });

    const refused = await stranger.GET('/v1/credits');

    expect(refused.response.status).toBe(401);
    expect(refused.error).toMatchObject({ code: 'unauthorized' });
  });
});
