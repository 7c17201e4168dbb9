// The audit trail (issue 18 item 4) against DynamoDB Local: each billing change through its real route leaves
// exactly one entry naming who made it (the token for token calls, the operator for /admin), a refused
// change (400, 404, 409) leaves none, an Idempotency-Key replay leaves the one of the first call, no entry
// holds a secret; GET /v1/audit lists newest first, pages with signed cursors, and needs the billing scope.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '#shared/ids.ts';
import { caughtMail } from '#shared/notifications/mailer.ts';
import { findTokenByHash } from '#shared/tokens/repository.ts';
import { fundedAccount } from '../support/accounts.ts';
import { type CallResult, call } from '../support/api.ts';
import { expectContractError } from '../support/assertions.ts';
import { type Payments, startPayments } from '../support/payments.ts';

type Entry = {
  id: string;
  at: string;
  actor: { type: string; id?: string };
  action: string;
  target?: string;
  details?: Record<string, unknown>;
};

/** Every entry of the account, newest first, read through GET /v1/audit page by page. */
async function trail(token: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  let cursor: string | undefined;
  do {
    const page = await call('GET', '/v1/audit', {
      token,
      query: { limit: '100', ...(cursor ? { cursor } : {}) },
    });
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    entries.push(...(page.body.data as Entry[]));
    cursor = page.body.next_cursor ?? undefined;
  } while (cursor);
  return entries;
}

async function tokenIdOf(token: string): Promise<string> {
  const found = await findTokenByHash(hashToken(token));
  if (!found) throw new Error('token not found');
  return found.token_id;
}

/** A billing-scoped customer with its own token id, the actor of its changes. */
async function customer(usd = 10) {
  const { accountId, token } = await fundedAccount(usd);
  return { accountId, token, actor: { type: 'token', id: await tokenIdOf(token) } };
}

function expectOk(response: CallResult, status: number) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
}

function admin(method: string, path: string, body: unknown, key?: string) {
  return call(method, path, { body, ...(key ? { headers: { 'idempotency-key': key } } : {}) });
}

describe('the audit trail of a customer’s changes', () => {
  it('records token creation, change and revocation once each, with the calling token and never the secret', async () => {
    // Prepare
    const { token, actor } = await customer();
    const request = {
      token,
      body: { name: 'ci', scopes: ['api'], spend_limit: { amount: 5, reset: 'monthly' } },
      headers: { 'idempotency-key': 'make-ci' },
    };

    // Act
    const created = await call('POST', '/v1/tokens', request);
    const replayed = await call('POST', '/v1/tokens', request);
    const refused = await call('POST', '/v1/tokens', { token, body: { name: '' } });
    const changed = await call('PATCH', `/v1/tokens/${created.body.id}`, { token, body: { name: 'ci-2' } });
    const unknown = await call('PATCH', '/v1/tokens/tok_00000000000000000000000000', {
      token,
      body: { name: 'x' },
    });
    const revoked = await call('DELETE', `/v1/tokens/${created.body.id}`, { token });
    const again = await call('DELETE', `/v1/tokens/${created.body.id}`, { token });

    // Assess
    expectOk(created, 201);
    expectOk(replayed, 201);
    expect(replayed.body.id).toBe(created.body.id);
    expectContractError(refused, 400, 'invalid_request', { details: true });
    expectOk(changed, 200);
    expectContractError(unknown, 404, 'not_found');
    expectOk(revoked, 204);
    expectContractError(again, 404, 'not_found');
    const entries = await trail(token);
    expect(entries.map((e) => e.action)).toEqual(['token.revoked', 'token.changed', 'token.created']);
    for (const entry of entries) {
      expect(entry.actor).toEqual(actor);
      expect(entry.target).toBe(created.body.id);
      expect(entry.id).toMatch(/^aud_[0-9A-HJKMNP-TV-Z]{26}$/);
    }
    expect(entries[2]!.details).toEqual({
      name: 'ci',
      scopes: ['api'],
      expires_at: null,
      spend_limit: { amount: 5, reset: 'monthly' },
      rate_limit: null,
    });
    expect(entries[1]!.details).toEqual({ name: 'ci', changed: { name: { from: 'ci', to: 'ci-2' } } });
    expect(JSON.stringify(entries)).not.toContain(created.body.token);
    expect(JSON.stringify(entries)).not.toContain('crd_');
  });

  it('records notification settings and auto-refill settings (before → after); a 400 or 409 records nothing', async () => {
    // Prepare
    const { token, actor } = await customer();
    const settings = {
      recipients: ['finance@example.com'],
      low_balance_threshold: 3,
      events: { low_balance: true, auto_refill: true, spend_limit: true, invoices: false, receipts: true },
    };

    // Act
    const notifications = await call('PUT', '/v1/notifications', { token, body: settings });
    const badNotifications = await call('PUT', '/v1/notifications', {
      token,
      body: { ...settings, recipients: ['not an address'] },
    });
    const refill = { enabled: false, threshold: 5, amount: 20, monthly_cap: 100 };
    const autoRefill = await call('PUT', '/v1/billing/auto-refill', { token, body: refill });
    const noCard = await call('PUT', '/v1/billing/auto-refill', {
      token,
      body: { ...refill, enabled: true },
    });

    // Assess
    expectOk(notifications, 200);
    expectContractError(badNotifications, 400, 'invalid_request', { details: true });
    expectOk(autoRefill, 200);
    expectContractError(noCard, 409, 'no_payment_method');
    const entries = await trail(token);
    expect(entries.map((e) => [e.action, e.actor])).toEqual([
      ['auto_refill.changed', actor],
      ['notifications.changed', actor],
    ]);
    expect(entries[0]!.details).toEqual({
      before: null,
      after: { enabled: false, threshold: 5, amount: 20, monthly_cap: 100 },
    });
    expect(entries[1]!.details).toEqual(settings);
  });

  it('records a postpaid spend limit set and cleared; a prepaid account’s refused limit records nothing', async () => {
    // Prepare
    const { accountId, token, actor } = await customer();
    const prepaid = await customer();
    expectOk(await admin('PUT', `/admin/accounts/${accountId}/billing`, { mode: 'postpaid' }), 200);

    // Act
    const set = await call('PUT', '/v1/billing/spend-limit', { token, body: { monthly_spend_limit: 40 } });
    const cleared = await call('PUT', '/v1/billing/spend-limit', {
      token,
      body: { monthly_spend_limit: null },
    });
    const refused = await call('PUT', '/v1/billing/spend-limit', {
      token: prepaid.token,
      body: { monthly_spend_limit: 40 },
    });

    // Assess
    expectOk(set, 200);
    expectOk(cleared, 200);
    expectContractError(refused, 409, 'wrong_billing_mode');
    const entries = await trail(token);
    expect(entries.map((e) => [e.action, e.actor, e.details])).toEqual([
      ['spend_limit.cleared', actor, undefined],
      ['spend_limit.set', actor, { monthly_spend_limit: 40 }],
      ['billing_mode.changed', { type: 'operator' }, { mode: 'postpaid', payment_terms_days: 30 }],
    ]);
    expect(await trail(prepaid.token)).toEqual([]);
  });

  it('records webhook endpoints created (once under a replay), re-enabled and deleted, without the signing secret', async () => {
    // Prepare
    const { token, actor } = await customer();
    const url = 'http://127.0.0.1:9/hook';
    const request = {
      token,
      body: { url, events: ['credits.balance.low'] },
      headers: { 'idempotency-key': 'hook-1' },
    };

    // Act
    const created = await call('POST', '/v1/webhook-endpoints', request);
    const replayed = await call('POST', '/v1/webhook-endpoints', request);
    const enabled = await call('PATCH', `/v1/webhook-endpoints/${created.body.id}`, {
      token,
      body: { enabled: true },
    });
    const deleted = await call('DELETE', `/v1/webhook-endpoints/${created.body.id}`, { token });
    const gone = await call('DELETE', `/v1/webhook-endpoints/${created.body.id}`, { token });

    // Assess
    expectOk(created, 201);
    expectOk(replayed, 201);
    expectOk(enabled, 200);
    expect(enabled.body.status).toBe('enabled');
    expectOk(deleted, 204);
    expectContractError(gone, 404, 'not_found');
    const entries = await trail(token);
    expect(entries.map((e) => [e.action, e.actor, e.target, e.details])).toEqual([
      ['webhook_endpoint.deleted', actor, created.body.id, { url }],
      ['webhook_endpoint.enabled', actor, created.body.id, { url }],
      ['webhook_endpoint.created', actor, created.body.id, { url, events: ['credits.balance.low'] }],
    ]);
    expect(JSON.stringify(entries)).not.toContain(created.body.secret);
  });
});

describe('the audit trail of members', () => {
  it('records invitations, role changes and removals with the token or the member who made them; a 409 records nothing', async () => {
    // Prepare: a token invites the first owner; the owner, signed in by email, manages the rest.
    process.env.PUBLIC_BASE_URL = 'http://localhost:3000';
    const { token, actor } = await customer();
    const owner = await call('POST', '/v1/members', {
      token,
      body: { email: 'Boss@Example.com', role: 'owner' },
    });
    expectOk(owner, 201);
    const asked = await call('POST', '/auth/email', {
      body: { email: 'boss@example.com' },
      sourceIp: '203.0.113.77',
    });
    expectOk(asked, 202);
    const mail = caughtMail().find((caught) => caught.to[0] === 'boss@example.com');
    const secret = /\/auth\/callback\?token=([A-Za-z0-9_-]{43})/.exec(mail?.text ?? '')?.[1];
    const callback = await call('GET', '/auth/callback', { query: { token: secret ?? '' } });
    expect(callback.status).toBe(302);
    const session = {
      cookies: [callback.cookies[0]!.split(';')[0]!],
      headers: { 'x-requested-with': 'credits-dashboard' },
    };

    // Act
    const invited = await call('POST', '/v1/members', {
      ...session,
      body: { email: 'eng@example.com', role: 'viewer' },
    });
    const promoted = await call('PATCH', `/v1/members/${invited.body.id}`, {
      ...session,
      body: { role: 'billing' },
    });
    const lastOwner = await call('PATCH', `/v1/members/${owner.body.id}`, {
      ...session,
      body: { role: 'viewer' },
    });
    const removed = await call('DELETE', `/v1/members/${invited.body.id}`, { ...session });

    // Assess
    expectOk(invited, 201);
    expectOk(promoted, 200);
    expectContractError(lastOwner, 409, 'last_owner');
    expectOk(removed, 204);
    const member = { type: 'member', id: owner.body.id, email: 'boss@example.com' };
    const entries = (await trail(token)).filter((entry) => entry.action.startsWith('member.'));
    expect(
      entries.map(({ action, actor: who, target, details }) => ({ action, who, target, details })),
    ).toEqual([
      {
        action: 'member.removed',
        who: member,
        target: invited.body.id,
        details: { email: 'eng@example.com', role: 'billing' },
      },
      {
        action: 'member.role_changed',
        who: member,
        target: invited.body.id,
        details: { email: 'eng@example.com', role: 'billing' },
      },
      {
        action: 'member.invited',
        who: member,
        target: invited.body.id,
        details: { email: 'eng@example.com', role: 'viewer' },
      },
      {
        action: 'member.invited',
        who: actor,
        target: owner.body.id,
        details: { email: 'boss@example.com', role: 'owner' },
      },
    ]);
  });
});

describe('the audit trail of purchases', () => {
  let payments: Payments;
  beforeAll(async () => {
    payments = await startPayments();
  });
  afterAll(async () => {
    await payments?.stop();
  });

  it('records a purchase started once, also when its Idempotency-Key replays it', async () => {
    // Prepare
    const { token, actor } = await customer(0);
    const request = { token, body: { amount: 25 }, headers: { 'idempotency-key': 'buy-25' } };

    // Act
    const first = await call('POST', '/v1/billing/checkout', request);
    const replay = await call('POST', '/v1/billing/checkout', request);
    const refused = await call('POST', '/v1/billing/checkout', { token, body: { amount: -1 } });

    // Assess
    expectOk(first, 201);
    expectOk(replay, 201);
    expectContractError(refused, 400, 'invalid_request', { details: true });
    expect(await trail(token)).toEqual([
      expect.objectContaining({
        action: 'purchase.started',
        actor,
        target: first.body.purchase_id,
        details: { amount: 25, purchase_id: first.body.purchase_id },
      }),
    ]);
  });
});

describe('the audit trail of the operator’s changes', () => {
  it('records grants and corrections once per Idempotency-Key, and balance shards; a refused correction records nothing', async () => {
    // Prepare
    const { accountId, token } = await customer(10);
    const credits = `/admin/accounts/${accountId}/credits`;

    // Act
    const grant = await admin('POST', credits, { amount: 5, reason: 'goodwill' }, 'grant-1');
    const replay = await admin('POST', credits, { amount: 5, reason: 'goodwill' }, 'grant-1');
    const correction = await admin('POST', credits, { amount: -2, reason: 'double grant' });
    const tooMuch = await admin('POST', credits, { amount: -1000, reason: 'typo' });
    const shards = await admin('PUT', `/admin/accounts/${accountId}/balance-shards`, { count: 2 });
    const badMode = await admin('PUT', `/admin/accounts/${accountId}/billing`, { mode: 'postpaid' });

    // Assess
    expectOk(grant, 201);
    expectOk(replay, 201);
    expect(replay.body.id).toBe(grant.body.id);
    expectOk(correction, 201);
    expect(tooMuch.status).toBe(409);
    expectOk(shards, 200);
    expectContractError(badMode, 409, 'wrong_billing_mode');
    const entries = await trail(token);
    const operator = { type: 'operator' };
    expect(entries.map((e) => [e.action, e.actor, e.target, e.details])).toEqual([
      ['balance_shards.changed', operator, undefined, { from: 1, to: 2 }],
      [
        'credits.corrected',
        operator,
        correction.body.id,
        { amount: -2, reason: 'double grant', entry_id: correction.body.id },
      ],
      [
        'credits.granted',
        operator,
        grant.body.id,
        { amount: 5, reason: 'goodwill', entry_id: grant.body.id },
      ],
    ]);
  });
});

describe('GET /v1/audit', () => {
  it('pages newest first with signed cursors bound to the account, and needs the billing scope', async () => {
    // Prepare
    const { token } = await customer();
    const other = await customer();
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      expectOk(await call('POST', '/v1/tokens', { token, body: { name } }), 201);
    }
    const apiOnly = await call('POST', '/v1/tokens', { token, body: { name: 'api', scopes: ['api'] } });

    // Act
    const pages: Entry[][] = [];
    let cursor: string | undefined;
    let firstCursor: string | undefined;
    do {
      const page = await call('GET', '/v1/audit', {
        token,
        query: { limit: '2', ...(cursor ? { cursor } : {}) },
      });
      expectOk(page, 200);
      pages.push(page.body.data);
      cursor = page.body.next_cursor ?? undefined;
      firstCursor ??= cursor;
    } while (cursor);
    const foreign = await call('GET', '/v1/audit', { token: other.token, query: { cursor: firstCursor! } });
    const tooMany = await call('GET', '/v1/audit', { token, query: { limit: '101' } });
    const forbidden = await call('GET', '/v1/audit', { token: apiOnly.body.token });

    // Assess
    expect(pages.map((page) => page.length)).toEqual([2, 2, 2]);
    const names = pages.flat().map((e) => e.details?.name);
    expect(names).toEqual(['api', 'e', 'd', 'c', 'b', 'a']);
    const ids = pages.flat().map((e) => e.id);
    expect([...ids].sort().reverse()).toEqual(ids);
    expectContractError(foreign, 400, 'invalid_request', { details: true });
    expectContractError(tooMany, 400, 'invalid_request', { details: true });
    expectContractError(forbidden, 403, 'forbidden');
  });
});
