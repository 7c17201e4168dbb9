// Bad inputs at the edge: every one answers the contract's error body with the right status, leaks nothing
// internal, and changes nothing (money, ledger, held idempotency keys).
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { fundedAccount } from '../support/accounts.ts';
import { type CallOptions, call } from '../support/api.ts';
import { expectContractError, idempotencyRecord, moneySnapshot } from '../support/assertions.ts';

type Fixture = { accountId: string; token: string };

type BadInput = {
  name: string;
  method: string;
  path: (f: Fixture) => string;
  options: (f: Fixture) => CallOptions;
  status: number;
  code: string;
  /** 400s name the field in `details`. */
  field?: string;
  /** Sent with an Idempotency-Key in this scope; the key must stay unused afterwards. */
  keyScope?: 'account' | 'admin';
};

const echo = () => '/v1/demo/echo';
const credits = (f: Fixture) => `/admin/accounts/${f.accountId}/credits`;
const asAccount = (body: unknown) => (f: Fixture) => ({ token: f.token, body });
const rawAsAccount = (rawBody: string) => (f: Fixture) => ({ token: f.token, rawBody });
const asAdmin = (body: unknown) => () => ({ body });
const query = (path: string, q: Record<string, string>) => ({
  method: 'GET',
  path: () => path,
  options: (f: Fixture) => ({ token: f.token, query: q }),
});
const unknownToken = `crd_${'A'.repeat(43)}`;

const cases: BadInput[] = [
  // Bodies
  {
    name: 'malformed JSON',
    method: 'POST',
    path: echo,
    options: rawAsAccount('{"text": "hi"'),
    status: 400,
    code: 'invalid_request',
    field: 'body',
    keyScope: 'account',
  },
  {
    name: 'body missing',
    method: 'POST',
    path: echo,
    options: (f) => ({ token: f.token }),
    status: 400,
    code: 'invalid_request',
    field: 'body',
    keyScope: 'account',
  },
  {
    name: 'wrong type (text: 5)',
    method: 'POST',
    path: echo,
    options: asAccount({ text: 5 }),
    status: 400,
    code: 'invalid_request',
    field: 'text',
    keyScope: 'account',
  },
  {
    name: 'wrong type on the per-unit feature (text: [])',
    method: 'POST',
    path: () => '/v1/demo/words',
    options: asAccount({ text: [] }),
    status: 400,
    code: 'invalid_request',
    field: 'text',
    keyScope: 'account',
  },
  {
    name: 'extra unknown field',
    method: 'POST',
    path: echo,
    options: asAccount({ text: 'hi', debug: true }),
    status: 400,
    code: 'invalid_request',
    keyScope: 'account',
  },
  {
    name: 'token name of the wrong type',
    method: 'POST',
    path: () => '/v1/tokens',
    options: asAccount({ name: 5, scopes: ['api'] }),
    status: 400,
    code: 'invalid_request',
    field: 'name',
    keyScope: 'account',
  },
  {
    name: 'oversized body (> 64 KB)',
    method: 'POST',
    path: echo,
    options: asAccount({ text: 'x'.repeat(70 * 1024) }),
    status: 413,
    code: 'payload_too_large',
    keyScope: 'account',
  },
  // Admin credit amounts
  {
    name: 'admin credits: amount with 7 decimals',
    method: 'POST',
    path: credits,
    options: asAdmin({ amount: 1.1234567, reason: 'too precise' }),
    status: 400,
    code: 'invalid_request',
    field: 'amount',
    keyScope: 'admin',
  },
  {
    name: 'admin credits: amount of 1e-7',
    method: 'POST',
    path: credits,
    options: asAdmin({ amount: 1e-7, reason: 'below a micro-dollar' }),
    status: 400,
    code: 'invalid_request',
    field: 'amount',
    keyScope: 'admin',
  },
  {
    name: 'admin credits: NaN (invalid JSON)',
    method: 'POST',
    path: credits,
    options: () => ({ rawBody: '{"amount": NaN, "reason": "nan"}' }),
    status: 400,
    code: 'invalid_request',
    field: 'body',
    keyScope: 'admin',
  },
  {
    name: 'admin credits: huge (1e300)',
    method: 'POST',
    path: credits,
    options: asAdmin({ amount: 1e300, reason: 'huge' }),
    status: 400,
    code: 'invalid_request',
    field: 'amount',
    keyScope: 'admin',
  },
  {
    name: 'admin credits: string "5"',
    method: 'POST',
    path: credits,
    options: asAdmin({ amount: '5', reason: 'string' }),
    status: 400,
    code: 'invalid_request',
    field: 'amount',
    keyScope: 'admin',
  },
  {
    name: 'admin credits: zero',
    method: 'POST',
    path: credits,
    options: asAdmin({ amount: 0, reason: 'nothing' }),
    status: 400,
    code: 'invalid_request',
    field: 'amount',
    keyScope: 'admin',
  },
  {
    name: 'admin credits: extra unknown field',
    method: 'POST',
    path: credits,
    options: asAdmin({ amount: 1, reason: 'x', currency: 'EUR' }),
    status: 400,
    code: 'invalid_request',
    keyScope: 'admin',
  },
  {
    name: 'admin credits: malformed account id',
    method: 'POST',
    path: () => '/admin/accounts/not-an-account/credits',
    options: asAdmin({ amount: 1, reason: 'bad id' }),
    status: 400,
    code: 'invalid_request',
    field: 'id',
    keyScope: 'admin',
  },
  {
    name: 'admin credits: negative beyond the balance',
    method: 'POST',
    path: credits,
    options: asAdmin({ amount: -1000, reason: 'more than there is' }),
    status: 409,
    code: 'insufficient_balance',
  },
  // Routes
  {
    name: 'unknown route GET /v1/nope',
    method: 'GET',
    path: () => '/v1/nope',
    options: (f) => ({ token: f.token }),
    status: 404,
    code: 'not_found',
  },
  {
    name: 'method not routed POST /v1/credits',
    method: 'POST',
    path: () => '/v1/credits',
    options: asAccount({}),
    status: 404,
    code: 'not_found',
  },
  // Tokens
  {
    name: 'bearer token missing',
    method: 'POST',
    path: echo,
    options: () => ({ body: { text: 'hi' } }),
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'bearer token garbage',
    method: 'POST',
    path: echo,
    options: () => ({ body: { text: 'hi' }, headers: { authorization: 'Bearer garbage' } }),
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'not a bearer scheme',
    method: 'GET',
    path: () => '/v1/credits',
    options: (f) => ({ headers: { authorization: `Basic ${f.token}` } }),
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'bearer token well-formed but unknown',
    method: 'POST',
    path: echo,
    options: () => ({ body: { text: 'hi' }, token: unknownToken }),
    status: 401,
    code: 'unauthorized',
  },
  // Query parameters
  {
    name: 'usage step=hour',
    ...query('/v1/usage', { step: 'hour' }),
    status: 400,
    code: 'invalid_request',
    field: 'step',
  },
  {
    name: 'usage begin after end',
    ...query('/v1/usage', { begin: '2026-03-10', end: '2026-03-01' }),
    status: 400,
    code: 'invalid_request',
    field: 'begin',
  },
  {
    name: 'usage non-calendar date 2026-02-30',
    ...query('/v1/usage', { begin: '2026-02-30', end: '2026-03-05' }),
    status: 400,
    code: 'invalid_request',
    field: 'begin',
  },
  {
    name: 'usage month 13 (2026-13-01)',
    ...query('/v1/usage', { begin: '2026-13-01', end: '2026-12-31' }),
    status: 400,
    code: 'invalid_request',
    field: 'begin',
  },
  {
    name: 'usage day 32 (2026-01-32)',
    ...query('/v1/usage', { end: '2026-01-32' }),
    status: 400,
    code: 'invalid_request',
    field: 'end',
  },
  {
    name: 'usage range too long for step=day',
    ...query('/v1/usage', { begin: '2025-01-01', end: '2026-06-30', step: 'day' }),
    status: 400,
    code: 'invalid_request',
    field: 'end',
  },
  {
    name: 'usage feature with characters outside [A-Za-z0-9_-]',
    ...query('/v1/usage', { feature: 'echo:cost' }),
    status: 400,
    code: 'invalid_request',
    field: 'feature',
  },
  {
    name: 'usage unknown parameter',
    ...query('/v1/usage', { granularity: 'day' }),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'transactions limit=0',
    ...query('/v1/transactions', { limit: '0' }),
    status: 400,
    code: 'invalid_request',
    field: 'limit',
  },
  {
    name: 'transactions limit=101',
    ...query('/v1/transactions', { limit: '101' }),
    status: 400,
    code: 'invalid_request',
    field: 'limit',
  },
  {
    name: 'transactions limit=abc',
    ...query('/v1/transactions', { limit: 'abc' }),
    status: 400,
    code: 'invalid_request',
    field: 'limit',
  },
  {
    name: 'transactions cursor=garbage',
    ...query('/v1/transactions', { cursor: 'garbage' }),
    status: 400,
    code: 'invalid_request',
    field: 'cursor',
  },
  // Idempotency-Key
  {
    name: 'Idempotency-Key of 300 characters',
    method: 'POST',
    path: echo,
    options: (f) => ({
      token: f.token,
      body: { text: 'hi' },
      headers: { 'idempotency-key': 'k'.repeat(300) },
    }),
    status: 400,
    code: 'invalid_request',
    field: 'Idempotency-Key',
  },
  {
    name: 'Idempotency-Key with a space',
    method: 'POST',
    path: echo,
    options: (f) => ({ token: f.token, body: { text: 'hi' }, headers: { 'idempotency-key': 'two words' } }),
    status: 400,
    code: 'invalid_request',
    field: 'Idempotency-Key',
  },
];

let fixture: Fixture;

beforeAll(async () => {
  fixture = await fundedAccount(1, 'Bad inputs');
});

describe('bad inputs', () => {
  it.each(cases)('$name → $status $code, nothing changed', async (badInput) => {
    // Prepare
    const before = await moneySnapshot(fixture.accountId);
    const key = `bad-${randomUUID()}`;
    const options = badInput.options(fixture);
    if (badInput.keyScope) options.headers = { ...options.headers, 'idempotency-key': key };

    // Act
    const response = await call(badInput.method, badInput.path(fixture), options);

    // Assess
    expectContractError(response, badInput.status, badInput.code, {
      details: badInput.status === 400,
      ...(badInput.field ? { field: badInput.field } : {}),
    });
    expect(await moneySnapshot(fixture.accountId)).toEqual(before);
    if (badInput.keyScope) {
      // A refused request must not use up its key: the corrected retry with the same key must run.
      const scope = badInput.keyScope === 'admin' ? 'admin' : fixture.accountId;
      expect(await idempotencyRecord(scope, key)).toBeUndefined();
    }
  });

  it('a grant corrected after a 400 (amount 0) runs when retried with the same Idempotency-Key', async () => {
    // Prepare
    const before = await moneySnapshot(fixture.accountId);
    const key = `bad-${randomUUID()}`;
    const path = `/admin/accounts/${fixture.accountId}/credits`;
    const refused = await call('POST', path, {
      body: { amount: 0, reason: 'typo' },
      headers: { 'idempotency-key': key },
    });

    // Act
    const corrected = await call('POST', path, {
      body: { amount: 1, reason: 'typo' },
      headers: { 'idempotency-key': key },
    });

    // Assess
    expectContractError(refused, 400, 'invalid_request', { details: true, field: 'amount' });
    expect(corrected.status, JSON.stringify(corrected.body)).toBe(201);
    expect((await moneySnapshot(fixture.accountId)).balance).toBe(before.balance + 1_000_000);
  });

  it('a correction beyond the balance is 409 insufficient_balance, moves nothing, and replays the same refusal', async () => {
    // Prepare
    const before = await moneySnapshot(fixture.accountId);
    const key = `bad-${randomUUID()}`;
    const request = { body: { amount: -5, reason: 'too much' }, headers: { 'idempotency-key': key } };

    // Act
    const first = await call('POST', `/admin/accounts/${fixture.accountId}/credits`, request);
    const replay = await call('POST', `/admin/accounts/${fixture.accountId}/credits`, request);

    // Assess
    expectContractError(first, 409, 'insufficient_balance');
    expect(replay.status).toBe(409);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers['x-request-id']).toBe(first.headers['x-request-id']);
    expect(await moneySnapshot(fixture.accountId)).toEqual(before);
  });
});
