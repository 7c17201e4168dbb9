// Every route of the route table, called over HTTP on the local stack, answers with `cache-control: no-store`
// and `x-content-type-options: nosniff`, on success and on error: the headers are stamped in one place, so a
// route cannot forget them. A route added to the table without a case here fails the first test.
import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { routeKey, routes } from '#infra/definitions/routes.ts';
import { emailHashOf } from '#shared/auth/memberships.ts';
import { nowIso } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { newUlid } from '#shared/ids.ts';
import { type HttpAnswer, type HttpOptions, stackClient } from '../support/http.ts';
import { useLocalStack } from '../support/stack.ts';

const ADMIN_KEY = 'security-headers-admin-key';

const stack = useLocalStack('headers', { adminApiKey: ADMIN_KEY, seedDemo: true });
const http = stackClient(() => stack().url, ADMIN_KEY);

type Request = { method: string; path: string; options?: HttpOptions };
/** `noError`: the route has no error answer for a well-formed request (why); its success is checked twice. */
type Case =
  | { success?: () => Promise<Request>; error: () => Promise<Request> }
  | { success: () => Promise<Request>; also: () => Promise<Request>; noError: string };

const demoToken = () => stack().demo!.token;
const demoAccount = () => stack().demo!.accountId;

async function newTokenId(): Promise<string> {
  const created = await http('POST', '/v1/tokens', { token: demoToken(), body: { name: 'to revoke' } });
  return created.body.id as string;
}

async function newMemberId(): Promise<string> {
  const created = await http('POST', '/v1/members', {
    token: demoToken(),
    body: { email: `member-${randomUUID()}@example.com`, role: 'viewer' },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id as string;
}

async function newWebhookEndpointId(): Promise<string> {
  const created = await http('POST', '/v1/webhook-endpoints', {
    token: demoToken(),
    body: { url: 'http://127.0.0.1:9/hook', events: ['*'] },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id as string;
}

async function checkout() {
  const opened = await http('POST', '/v1/billing/checkout', { token: demoToken(), body: { amount: 10 } });
  expect(opened.status, JSON.stringify(opened.body)).toBe(201);
  const sessionId = /cs_[A-Za-z0-9_]+/.exec(opened.body.checkout_url as string)?.[0];
  expect(sessionId).toBeDefined();
  return { purchaseId: opened.body.purchase_id as string, sessionId: sessionId! };
}

/** A buyer of an AWS Marketplace contract, registered through the emulator and the real registration. */
async function contractAccount(): Promise<string> {
  const minted = await http('POST', '/__marketplace/customers', {
    body: { entitlements: [{ dimension: 'credits_100', quantity: 1 }] },
  });
  const registered = await http('POST', '/marketplace/register', {
    form: { 'x-amzn-marketplace-token': minted.body.registration_token as string },
    accept: 'application/json',
  });
  if (registered.body.billing_mode !== 'marketplace_contract') throw new Error('not a contract buyer');
  return registered.body.account_id as string;
}

async function postpaidAccount(): Promise<string> {
  const opened = await http('POST', '/admin/accounts', { admin: true, body: { name: 'Postpaid headers' } });
  const id = opened.body.account_id as string;
  const mode = await http('PUT', `/admin/accounts/${id}/billing`, {
    admin: true,
    body: { mode: 'postpaid' },
  });
  expect(mode.status).toBe(200);
  return opened.body.token as string;
}

function signedWebhook(): HttpOptions {
  const payload = JSON.stringify({
    id: `evt_${randomUUID().replaceAll('-', '')}`,
    object: 'event',
    type: 'customer.created',
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: 'cus_headers', object: 'customer' } },
  });
  const signature = Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: stack().stripe!.webhookSecret,
  });
  return {
    headers: { 'stripe-signature': signature, 'content-type': 'application/json' },
    body: JSON.parse(payload),
  };
}

async function serviceKey(): Promise<string> {
  const created = await http('POST', '/admin/service-keys', { admin: true, body: { name: 'headers' } });
  expect(created.status).toBe(201);
  return created.body.key as string;
}

async function serviceKeyId(): Promise<string> {
  const created = await http('POST', '/admin/service-keys', { admin: true, body: { name: 'to revoke' } });
  return created.body.id as string;
}

/** A metering API call with a new service key and a fresh Idempotency-Key. */
async function meterCall(path: string, body?: unknown): Promise<Request> {
  return {
    method: 'POST',
    path,
    options: { token: await serviceKey(), body, headers: { 'idempotency-key': randomUUID() } },
  };
}

async function holdId(): Promise<string> {
  const { method, path, options } = await meterCall('/v1/meter/holds', {
    account_id: demoAccount(),
    feature: 'words',
    quantity: 10,
  });
  const held = await http(method, path, options);
  expect(held.status, JSON.stringify(held.body)).toBe(201);
  return held.body.hold_id as string;
}

/**
 * A dashboard session of an owner of the demo account: the member written in the design's key layout (the
 * stack runs in this process, on the table its environment names), signed in through the mail catcher.
 */
let sessionCookie: string | undefined;
async function signedIn(): Promise<Record<string, string>> {
  if (!sessionCookie) {
    const email = `headers-${randomUUID().slice(0, 8)}@example.com`;
    const memberId = `mem_${newUlid()}`;
    for (const Item of [
      {
        ...keys.member(demoAccount(), memberId),
        member_id: memberId,
        account_id: demoAccount(),
        email,
        role: 'owner',
        status: 'active',
        created_at: nowIso(),
        invited_by: { type: 'system' },
      },
      {
        ...keys.personAccount(emailHashOf(email), demoAccount()),
        account_id: demoAccount(),
        member_id: memberId,
        email,
      },
    ])
      await ddb().send(new PutCommand({ TableName: process.env.TABLE_NAME, Item }));
    expect((await http('POST', '/auth/email', { body: { email } })).status).toBe(202);
    const mail = await http('GET', '/__local/mail', { admin: true });
    const text =
      (mail.body.data as { to: string[]; text: string }[]).find((m) => m.to[0] === email)?.text ?? '';
    const token = /token=([A-Za-z0-9_-]{43})/.exec(text)?.[1];
    // The callback's 302 (not followed): it carries the headers too.
    const callback = await fetch(`${stack().url}/auth/callback?token=${token}`, { redirect: 'manual' });
    expect(callback.status).toBe(302);
    expectSecurityHeaders(
      { status: callback.status, headers: callback.headers, body: undefined },
      'GET /auth/callback success',
    );
    sessionCookie = callback.headers.getSetCookie()[0]!.split(';')[0]!;
  }
  return { cookie: sessionCookie };
}

const CSRF = { 'x-requested-with': 'credits-dashboard' };

/** The routes that need a bearer token: no token is the error case. */
const unauthenticated = (method: string, path: string) => async (): Promise<Request> => ({ method, path });

const cases: Record<string, Case> = {
  'POST /v1/demo/echo': {
    success: async () => ({
      method: 'POST',
      path: '/v1/demo/echo',
      options: { token: demoToken(), body: { text: 'hi' } },
    }),
    error: unauthenticated('POST', '/v1/demo/echo'),
  },
  'POST /v1/demo/words': {
    success: async () => ({
      method: 'POST',
      path: '/v1/demo/words',
      options: { token: demoToken(), body: { text: 'two words' } },
    }),
    error: unauthenticated('POST', '/v1/demo/words'),
  },
  'POST /v1/sample/translate': {
    success: async () => ({
      method: 'POST',
      path: '/v1/sample/translate',
      options: { token: demoToken(), body: { text: 'hello', to: 'fr' } },
    }),
    error: unauthenticated('POST', '/v1/sample/translate'),
  },
  'POST /v1/sample/complete': {
    success: async () => ({
      method: 'POST',
      path: '/v1/sample/complete',
      options: { token: demoToken(), body: { prompt: 'hello', max_tokens: 3 } },
    }),
    // The upstream's own refusal, passed through: the gateway still stamps the headers.
    error: async () => ({
      method: 'POST',
      path: '/v1/sample/complete',
      options: { token: demoToken(), body: { prompt: 'hello', max_tokens: 3, fail: 429 } },
    }),
  },
  'GET /openapi.json': {
    success: async () => ({ method: 'GET', path: '/openapi.json' }),
    // Public and without input, like the price list.
    error: async () => ({ method: 'DELETE', path: '/openapi.json' }),
  },
  'GET /v1/prices': {
    success: async () => ({ method: 'GET', path: '/v1/prices' }),
    // Public and without input: its only refusal is another method, which the catch-all answers.
    error: async () => ({ method: 'DELETE', path: '/v1/prices' }),
  },
  'GET /v1/credits': {
    success: async () => ({ method: 'GET', path: '/v1/credits', options: { token: demoToken() } }),
    error: unauthenticated('GET', '/v1/credits'),
  },
  'GET /v1/usage': {
    success: async () => ({ method: 'GET', path: '/v1/usage', options: { token: demoToken() } }),
    error: unauthenticated('GET', '/v1/usage'),
  },
  'GET /v1/transactions': {
    success: async () => ({ method: 'GET', path: '/v1/transactions', options: { token: demoToken() } }),
    error: async () => ({
      method: 'GET',
      path: '/v1/transactions?cursor=forged',
      options: { token: demoToken() },
    }),
  },
  'POST /v1/tokens': {
    success: async () => ({
      method: 'POST',
      path: '/v1/tokens',
      options: { token: demoToken(), body: { name: 'shown once' } },
    }),
    error: async () => ({
      method: 'POST',
      path: '/v1/tokens',
      options: { token: demoToken(), body: { name: '' } },
    }),
  },
  'GET /v1/audit': {
    success: async () => ({ method: 'GET', path: '/v1/audit', options: { token: demoToken() } }),
    error: async () => ({ method: 'GET', path: '/v1/audit?cursor=forged', options: { token: demoToken() } }),
  },
  'GET /v1/tokens': {
    success: async () => ({ method: 'GET', path: '/v1/tokens', options: { token: demoToken() } }),
    error: unauthenticated('GET', '/v1/tokens'),
  },
  'PATCH /v1/tokens/{id}': {
    success: async () => ({
      method: 'PATCH',
      path: `/v1/tokens/${await newTokenId()}`,
      options: { token: demoToken(), body: { name: 'renamed' } },
    }),
    error: async () => ({
      method: 'PATCH',
      path: '/v1/tokens/tok_unknown',
      options: { token: demoToken(), body: { name: 'renamed' } },
    }),
  },
  'DELETE /v1/tokens/{id}': {
    success: async () => ({
      method: 'DELETE',
      path: `/v1/tokens/${await newTokenId()}`,
      options: { token: demoToken() },
    }),
    error: async () => ({
      method: 'DELETE',
      path: '/v1/tokens/tok_unknown',
      options: { token: demoToken() },
    }),
  },
  'POST /v1/members': {
    success: async () => ({
      method: 'POST',
      path: '/v1/members',
      options: {
        token: demoToken(),
        body: { email: `invited-${randomUUID()}@example.com`, role: 'billing' },
      },
    }),
    error: async () => ({
      method: 'POST',
      path: '/v1/members',
      options: { token: demoToken(), body: { email: 'not an address', role: 'billing' } },
    }),
  },
  'GET /v1/members': {
    success: async () => ({ method: 'GET', path: '/v1/members', options: { token: demoToken() } }),
    error: unauthenticated('GET', '/v1/members'),
  },
  'PATCH /v1/members/{id}': {
    success: async () => ({
      method: 'PATCH',
      path: `/v1/members/${await newMemberId()}`,
      options: { token: demoToken(), body: { role: 'billing' } },
    }),
    error: async () => ({
      method: 'PATCH',
      path: '/v1/members/mem_unknown',
      options: { token: demoToken(), body: { role: 'billing' } },
    }),
  },
  'DELETE /v1/members/{id}': {
    success: async () => ({
      method: 'DELETE',
      path: `/v1/members/${await newMemberId()}`,
      options: { token: demoToken() },
    }),
    error: async () => ({
      method: 'DELETE',
      path: '/v1/members/mem_unknown',
      options: { token: demoToken() },
    }),
  },
  // Self-serve sign-up is off on the test stack: the route answers 404, as a deployment without it does.
  'POST /auth/signup': {
    error: async () => ({
      method: 'POST',
      path: '/auth/signup',
      options: { body: { email: 'someone@example.com', name: 'Someone' } },
    }),
  },
  'POST /v1/billing/checkout': {
    success: async () => ({
      method: 'POST',
      path: '/v1/billing/checkout',
      options: { token: demoToken(), body: { amount: 10 } },
    }),
    error: unauthenticated('POST', '/v1/billing/checkout'),
  },
  'GET /v1/billing/purchases': {
    success: async () => ({ method: 'GET', path: '/v1/billing/purchases', options: { token: demoToken() } }),
    error: unauthenticated('GET', '/v1/billing/purchases'),
  },
  'GET /v1/billing/purchases/{id}': {
    success: async () => ({
      method: 'GET',
      path: `/v1/billing/purchases/${(await checkout()).purchaseId}`,
      options: { token: demoToken() },
    }),
    error: async () => ({
      method: 'GET',
      path: '/v1/billing/purchases/nope',
      options: { token: demoToken() },
    }),
  },
  'GET /v1/billing/auto-refill': {
    success: async () => ({
      method: 'GET',
      path: '/v1/billing/auto-refill',
      options: { token: demoToken() },
    }),
    error: unauthenticated('GET', '/v1/billing/auto-refill'),
  },
  'PUT /v1/billing/auto-refill': {
    success: async () => ({
      method: 'PUT',
      path: '/v1/billing/auto-refill',
      options: { token: demoToken(), body: { enabled: false, threshold: 5, amount: 10 } },
    }),
    error: async () => ({
      method: 'PUT',
      path: '/v1/billing/auto-refill',
      options: { token: demoToken(), body: { enabled: 'yes' } },
    }),
  },
  'GET /v1/notifications': {
    success: async () => ({ method: 'GET', path: '/v1/notifications', options: { token: demoToken() } }),
    error: unauthenticated('GET', '/v1/notifications'),
  },
  'PUT /v1/notifications': {
    success: async () => ({
      method: 'PUT',
      path: '/v1/notifications',
      options: {
        token: demoToken(),
        body: {
          recipients: ['ops@example.com'],
          low_balance_threshold: 5,
          events: { low_balance: true, auto_refill: true, spend_limit: true, invoices: true, receipts: true },
        },
      },
    }),
    error: async () => ({
      method: 'PUT',
      path: '/v1/notifications',
      options: { token: demoToken(), body: { recipients: ['not an address'] } },
    }),
  },
  'POST /v1/webhook-endpoints': {
    success: async () => ({
      method: 'POST',
      path: '/v1/webhook-endpoints',
      options: { token: demoToken(), body: { url: 'http://127.0.0.1:9/hook', events: ['credits.granted'] } },
    }),
    error: async () => ({
      method: 'POST',
      path: '/v1/webhook-endpoints',
      options: { token: demoToken(), body: { url: 'not a url', events: ['*'] } },
    }),
  },
  'GET /v1/webhook-endpoints': {
    success: async () => ({ method: 'GET', path: '/v1/webhook-endpoints', options: { token: demoToken() } }),
    error: unauthenticated('GET', '/v1/webhook-endpoints'),
  },
  'PATCH /v1/webhook-endpoints/{id}': {
    success: async () => ({
      method: 'PATCH',
      path: `/v1/webhook-endpoints/${await newWebhookEndpointId()}`,
      options: { token: demoToken(), body: { enabled: true } },
    }),
    error: async () => ({
      method: 'PATCH',
      path: `/v1/webhook-endpoints/${await newWebhookEndpointId()}`,
      options: { token: demoToken(), body: { enabled: false } },
    }),
  },
  'DELETE /v1/webhook-endpoints/{id}': {
    success: async () => ({
      method: 'DELETE',
      path: `/v1/webhook-endpoints/${await newWebhookEndpointId()}`,
      options: { token: demoToken() },
    }),
    error: async () => ({
      method: 'DELETE',
      path: '/v1/webhook-endpoints/we_01JAAAAAAAAAAAAAAAAAAAAAAA',
      options: { token: demoToken() },
    }),
  },
  'GET /v1/webhook-endpoints/{id}/deliveries': {
    success: async () => ({
      method: 'GET',
      path: `/v1/webhook-endpoints/${await newWebhookEndpointId()}/deliveries`,
      options: { token: demoToken() },
    }),
    error: unauthenticated('GET', '/v1/webhook-endpoints/we_01JAAAAAAAAAAAAAAAAAAAAAAA/deliveries'),
  },
  'POST /v1/webhook-endpoints/{id}/test': {
    success: async () => ({
      method: 'POST',
      path: `/v1/webhook-endpoints/${await newWebhookEndpointId()}/test`,
      options: { token: demoToken() },
    }),
    error: async () => ({
      method: 'POST',
      path: '/v1/webhook-endpoints/not-an-id/test',
      options: { token: demoToken() },
    }),
  },
  'PUT /v1/billing/spend-limit': {
    success: async () => ({
      method: 'PUT',
      path: '/v1/billing/spend-limit',
      options: { token: await postpaidAccount(), body: { monthly_spend_limit: 50 } },
    }),
    error: async () => ({
      method: 'PUT',
      path: '/v1/billing/spend-limit',
      options: { token: demoToken(), body: { monthly_spend_limit: 50 } },
    }),
  },
  'GET /v1/billing/invoices': {
    success: async () => ({ method: 'GET', path: '/v1/billing/invoices', options: { token: demoToken() } }),
    error: unauthenticated('GET', '/v1/billing/invoices'),
  },
  'POST /webhooks/stripe': {
    success: async () => ({ method: 'POST', path: '/webhooks/stripe', options: signedWebhook() }),
    error: async () => ({
      method: 'POST',
      path: '/webhooks/stripe',
      options: { headers: { 'stripe-signature': 't=1,v1=00' }, body: { id: 'evt_forged' } },
    }),
  },
  'GET /billing/return': {
    success: async () => {
      const { purchaseId, sessionId } = await checkout();
      return { method: 'GET', path: `/billing/return?purchase_id=${purchaseId}&session_id=${sessionId}` };
    },
    error: async () => ({ method: 'GET', path: '/billing/return' }),
  },
  'POST /marketplace/register': {
    success: async () => {
      const minted = await http('POST', '/__marketplace/customers', { body: {} });
      return {
        method: 'POST',
        path: '/marketplace/register',
        options: { form: { 'x-amzn-marketplace-token': minted.body.registration_token as string } },
      };
    },
    error: async () => ({ method: 'POST', path: '/marketplace/register', options: { form: { other: 'x' } } }),
  },
  'POST /admin/accounts': {
    success: async () => ({
      method: 'POST',
      path: '/admin/accounts',
      options: { admin: true, body: { name: 'Headers' } },
    }),
    error: async () => ({ method: 'POST', path: '/admin/accounts', options: { body: { name: 'No key' } } }),
  },
  'GET /admin/accounts/{id}': {
    success: async () => ({
      method: 'GET',
      path: `/admin/accounts/${demoAccount()}`,
      options: { admin: true },
    }),
    error: async () => ({ method: 'GET', path: '/admin/accounts/acct_unknown', options: { admin: true } }),
  },
  'POST /admin/accounts/{id}/credits': {
    success: async () => ({
      method: 'POST',
      path: `/admin/accounts/${demoAccount()}/credits`,
      options: { admin: true, body: { amount: 1, reason: 'headers' } },
    }),
    error: async () => ({
      method: 'POST',
      path: `/admin/accounts/${demoAccount()}/credits`,
      options: { admin: true, body: { amount: 'lots' } },
    }),
  },
  'PUT /admin/accounts/{id}/billing': {
    success: async () => ({
      method: 'PUT',
      path: `/admin/accounts/${demoAccount()}/billing`,
      options: { admin: true, body: { mode: 'prepaid' } },
    }),
    error: async () => ({
      method: 'PUT',
      path: `/admin/accounts/${demoAccount()}/billing`,
      options: { admin: true, body: { mode: 'free' } },
    }),
  },
  'PUT /admin/accounts/{id}/balance-shards': {
    success: async () => ({
      method: 'PUT',
      path: `/admin/accounts/${demoAccount()}/balance-shards`,
      options: { admin: true, body: { count: 1 } },
    }),
    error: async () => ({
      method: 'PUT',
      path: `/admin/accounts/${demoAccount()}/balance-shards`,
      options: { admin: true, body: { count: 33 } },
    }),
  },
  'GET /admin/marketplace/reconciliation': {
    success: async () => ({
      method: 'GET',
      path: '/admin/marketplace/reconciliation?begin=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z',
      options: { admin: true },
    }),
    error: async () => ({
      method: 'GET',
      path: '/admin/marketplace/reconciliation',
      options: { admin: true },
    }),
  },
  'GET /admin/marketplace/contracts/{id}': {
    success: async () => ({
      method: 'GET',
      path: `/admin/marketplace/contracts/${await contractAccount()}`,
      options: { admin: true },
    }),
    // A prepaid account: 409 wrong_billing_mode.
    error: async () => ({
      method: 'GET',
      path: `/admin/marketplace/contracts/${demoAccount()}`,
      options: { admin: true },
    }),
  },
  'POST /admin/service-keys': {
    success: async () => ({
      method: 'POST',
      path: '/admin/service-keys',
      options: { admin: true, body: { name: 'a' } },
    }),
    error: async () => ({ method: 'POST', path: '/admin/service-keys', options: { admin: true, body: {} } }),
  },
  'GET /admin/service-keys': {
    success: async () => ({ method: 'GET', path: '/admin/service-keys', options: { admin: true } }),
    error: async () => ({ method: 'GET', path: '/admin/service-keys' }),
  },
  'DELETE /admin/service-keys/{id}': {
    success: async () => ({
      method: 'DELETE',
      path: `/admin/service-keys/${await serviceKeyId()}`,
      options: { admin: true },
    }),
    error: async () => ({
      method: 'DELETE',
      path: '/admin/service-keys/svck_unknown',
      options: { admin: true },
    }),
  },
  'POST /v1/meter/charges': {
    success: () => meterCall('/v1/meter/charges', { account_id: demoAccount(), feature: 'echo' }),
    // A customer's token is refused on the metering API.
    error: async () => ({
      method: 'POST',
      path: '/v1/meter/charges',
      options: { token: demoToken(), body: { account_id: demoAccount(), feature: 'echo' } },
    }),
  },
  'POST /v1/meter/holds': {
    success: () => meterCall('/v1/meter/holds', { account_id: demoAccount(), feature: 'words', quantity: 5 }),
    error: () => meterCall('/v1/meter/holds', { account_id: demoAccount(), feature: 'echo' }),
  },
  'POST /v1/meter/holds/{id}/settle': {
    success: async () => meterCall(`/v1/meter/holds/${await holdId()}/settle`, { quantity: 3 }),
    error: () => meterCall('/v1/meter/holds/hold_unknown/settle', { quantity: 3 }),
  },
  'POST /v1/meter/holds/{id}/release': {
    success: async () => meterCall(`/v1/meter/holds/${await holdId()}/release`),
    error: () => meterCall('/v1/meter/holds/hold_unknown/release'),
  },
  'POST /auth/email': {
    success: async () => ({
      method: 'POST',
      path: '/auth/email',
      options: { body: { email: 'nobody@example.com' } },
    }),
    error: async () => ({
      method: 'POST',
      path: '/auth/email',
      options: { body: { email: 'not an address' } },
    }),
  },
  // Its success is a 302 (checked in signedIn()); here the page of a link that is not valid.
  'GET /auth/callback': { error: async () => ({ method: 'GET', path: '/auth/callback?token=tampered' }) },
  'GET /auth/session': {
    success: async () => ({ method: 'GET', path: '/auth/session', options: { headers: await signedIn() } }),
    also: async () => ({ method: 'GET', path: '/auth/session' }),
    noError: 'signed out is an answer too: 200 {"email": null}',
  },
  'PUT /auth/session': {
    success: async () => ({
      method: 'PUT',
      path: '/auth/session',
      options: { headers: { ...(await signedIn()), ...CSRF }, body: { account_id: demoAccount() } },
    }),
    error: async () => ({
      method: 'PUT',
      path: '/auth/session',
      options: { headers: await signedIn(), body: { account_id: demoAccount() } },
    }),
  },
  'POST /auth/logout': {
    // Without a session it only clears the cookie: the signed-in session stays for the cases above.
    success: async () => ({ method: 'POST', path: '/auth/logout', options: { headers: CSRF } }),
    error: async () => ({ method: 'POST', path: '/auth/logout' }),
  },
  // The catch-all only ever answers 404.
  'ANY /{proxy+}': { error: async () => ({ method: 'GET', path: '/v1/nothing-here' }) },
};

function expectSecurityHeaders(answer: HttpAnswer, label: string): void {
  expect(answer.headers.get('cache-control'), label).toBe('no-store');
  expect(answer.headers.get('x-content-type-options'), label).toBe('nosniff');
}

describe('security headers on every route', () => {
  it('has a success and an error case for every route of the route table', () => {
    expect(Object.keys(cases).sort()).toEqual(routes.map(routeKey).sort());
  });

  it.each(routes.map(routeKey))(
    '%s: cache-control no-store and nosniff on success and on error',
    async (key) => {
      const routeCase = cases[key]!;
      if (routeCase.success) {
        const { method, path, options } = await routeCase.success();
        const answer = await http(method, path, options);
        expect(answer.status, `${key} success: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
        expectSecurityHeaders(answer, `${key} success`);
      }
      if ('noError' in routeCase) {
        const { method, path, options } = await routeCase.also();
        const answer = await http(method, path, options);
        expect(answer.status, `${key} (${routeCase.noError})`).toBe(200);
        expectSecurityHeaders(answer, `${key} (${routeCase.noError})`);
        return;
      }
      const { method, path, options } = await routeCase.error();
      const answer = await http(method, path, options);
      expect(answer.status, `${key} error`).toBeGreaterThanOrEqual(400);
      expect(answer.status, `${key} error`).toBeLessThan(500);
      expectSecurityHeaders(answer, `${key} error`);
    },
  );
});
