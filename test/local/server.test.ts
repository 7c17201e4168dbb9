// The local stack end to end: its HTTP front door, the `/__local/*` controls, and its agreement with the route table.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functions } from '#infra/definitions/functions.ts';
import { jobs } from '#infra/definitions/jobs.ts';
import { routeKey, routes } from '#infra/definitions/routes.ts';
import { nowMs } from '#shared/clock.ts';
import { DEMO_OWNER_EMAIL, type LocalStack, matchRoute, startLocalStack } from '../../local/server.ts';
import { eventually } from '../support/eventually.ts';

const ADMIN_KEY = 'test-admin-key';
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    adminApiKey: ADMIN_KEY,
    // A DynamoDB Local from a global setup is reused; otherwise the stack starts its own.
    dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
    tableName: `local-server-${randomUUID().slice(0, 8)}`,
    seedDemo: true,
    runJobs: false,
    quiet: true,
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

type LocalEvent = { type: string; account_id: string; entry_id?: string; event_id?: string };

async function localEvents(): Promise<LocalEvent[]> {
  const response = await call('/__local/events', { admin: true });
  expect(response.status).toBe(200);
  return ((await response.json()) as { data: LocalEvent[] }).data;
}

function call(path: string, init: RequestInit & { admin?: boolean; token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.admin) headers.set('x-admin-key', ADMIN_KEY);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  if (typeof init.body === 'string') headers.set('content-type', 'application/json');
  return fetch(`${stack.url}${path}`, { ...init, headers });
}

describe('local stack', () => {
  it('reports healthy once started', async () => {
    const response = await call('/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
    expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9A-Z]{26}$/);
  });

  it('serves a page at /', async () => {
    const response = await call('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
  });

  it('answers HEAD / with the status and headers of GET /, and no body', async () => {
    const get = await call('/');
    expect((await get.arrayBuffer()).byteLength).toBeGreaterThan(0);
    const head = await call('/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    // Hop-by-hop and time headers describe the connection and the moment, not the answer.
    const perConnection = new Set(['date', 'connection', 'keep-alive']);
    const headers = (response: Response) =>
      Object.fromEntries([...response.headers].filter(([name]) => !perConnection.has(name)));
    expect(headers(head)).toEqual(headers(get));
    expect(head.headers.get('content-length')).toMatch(/^[1-9]\d*$/);
    expect(await head.text()).toBe('');
  });

  it('gives the dashboard a favicon its content security policy lets the browser load', async () => {
    const response = await call('/');
    const html = await response.text();
    const href = /<link rel="icon" href="([^"]+)">/.exec(html)?.[1];
    // An inline icon: no request for it, so nothing to 404 locally or behind CloudFront.
    expect(href).toMatch(/^data:image\/svg\+xml,<svg xmlns='http:\/\/www\.w3\.org\/2000\/svg'.*<\/svg>$/);
    expect(decodeURIComponent(href!.slice('data:image/svg+xml,'.length))).toContain("fill='#533afd'");
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy.split('; ')).toContainEqual(expect.stringMatching(/^img-src .*\bdata:/));
  });

  it('answers unknown routes with the contract 404 through the catch-all function', async () => {
    for (const [method, path] of [
      ['GET', '/no/such/route'],
      ['PATCH', '/v1/credits'],
      ['POST', '/'],
    ] as const) {
      const response = await call(path, { method });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(await response.json()).toMatchObject({ code: 'not_found', error: expect.any(String) });
      expect(response.headers.get('x-request-id')).toBeTruthy();
    }
  });

  it('refuses admin routes without the admin key and serves them with it', async () => {
    const body = JSON.stringify({ name: 'Routing test' });
    const refused = await call('/admin/accounts', { method: 'POST', body });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: 'Missing or invalid x-admin-key', code: 'unauthorized' });
    const wrongKey = await call('/admin/accounts', {
      method: 'POST',
      body,
      headers: { 'x-admin-key': 'nope' },
    });
    expect(wrongKey.status).toBe(401);

    const created = await call('/admin/accounts', { method: 'POST', body, admin: true });
    expect(created.status).toBe(201);
    const { account_id } = (await created.json()) as { account_id: string };
    // A path-parameter route reaches its function with the parameter.
    const read = await call(`/admin/accounts/${account_id}`, { admin: true });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ account_id });
  });

  it('seeds a demo account whose billing token works', async () => {
    expect(stack.demo).toBeDefined();
    const { token } = stack.demo!;
    const credits = await call('/v1/credits', { token });
    expect(credits.status).toBe(200);
    expect(await credits.json()).toMatchObject({ balance: 10, currency: 'USD' });
  });

  it('seeds the demo account with its owner member demo@example.com, who signs in by email', async () => {
    const members = await call('/v1/members', { token: stack.demo!.token });
    expect(members.status).toBe(200);
    expect(((await members.json()) as { data: unknown[] }).data).toEqual([
      expect.objectContaining({ email: DEMO_OWNER_EMAIL, role: 'owner' }),
    ]);
  });

  it('routes DELETE /v1/tokens/{id} with its path parameter', async () => {
    const { token } = stack.demo!;
    const created = await call('/v1/tokens', {
      method: 'POST',
      token,
      body: JSON.stringify({ name: 'to revoke', scopes: ['api'] }),
    });
    expect(created.status).toBe(201);
    const { id, token: secret } = (await created.json()) as { id: string; token: string };
    const revoked = await call(`/v1/tokens/${id}`, { method: 'DELETE', token });
    expect(revoked.status).toBe(204);
    expect((await call('/v1/credits', { token: secret })).status).toBe(401);
  });

  it('moves the clock for the whole process and restores it', async () => {
    expect(
      (await call('/__local/clock', { method: 'POST', body: '{"now":"2030-01-31T23:59:00Z"}' })).status,
    ).toBe(401);

    const moved = await call('/__local/clock', {
      method: 'POST',
      admin: true,
      body: '{"now":"2030-01-31T23:59:00Z"}',
    });
    expect(moved.status).toBe(200);
    expect(((await moved.json()) as { now: string }).now).toMatch(/^2030-01-31T23:59:0/);
    expect(Math.abs(nowMs() - Date.parse('2030-01-31T23:59:00Z'))).toBeLessThan(5_000);
    const read = (await (await call('/__local/clock')).json()) as { now: string };
    expect(read.now).toMatch(/^2030-01-31T23:59:0/);

    const bad = await call('/__local/clock', { method: 'POST', admin: true, body: '{"now":"next tuesday"}' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'invalid_request' });

    const restored = await call('/__local/clock', { method: 'DELETE', admin: true });
    expect(restored.status).toBe(200);
    expect(Math.abs(nowMs() - Date.now())).toBeLessThan(50);
  });

  it('runs jobs on demand', async () => {
    expect((await call('/__local/jobs/expire-holds', { method: 'POST' })).status).toBe(401);

    const unknown = await call('/__local/jobs/unknown', { method: 'POST', admin: true });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'not_found', error: expect.any(String) });

    const ran = await call('/__local/jobs/expire-holds', { method: 'POST', admin: true });
    expect(ran.status).toBe(200);
    const body = (await ran.json()) as { job: string; result: unknown };
    expect(body.job).toBe('expire-holds');
    expect(body.result).toBeTypeOf('object');
  });

  it('records the events the system publishes', async () => {
    expect((await call('/__local/events')).status).toBe(401);
    const data = await eventually(localEvents, (events) => events.length > 0);
    expect(data).toContainEqual(
      expect.objectContaining({ type: 'credits.granted', account_id: stack.demo!.accountId }),
    );
  });

  it("delivers a $2 grant's event from the table's stream once, with its event id", async () => {
    const granted = await call(`/admin/accounts/${stack.demo!.accountId}/credits`, {
      method: 'POST',
      admin: true,
      body: JSON.stringify({ amount: 2, reason: 'streamed' }),
    });
    expect(granted.status).toBe(201);
    const entryId = ((await granted.json()) as { id: string }).id;
    const ofGrant = (events: LocalEvent[]) => events.filter((event) => event.entry_id === entryId);

    await eventually(localEvents, (events) => ofGrant(events).length > 0);
    // Later passes of the poller deliver nothing more for it.
    await stack.drainStream();

    const delivered = ofGrant(await localEvents());
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ type: 'credits.granted', amount: 2, reason: 'streamed' });
    expect(delivered[0]?.event_id).toMatch(/^evt_/);
  });

  it('catches the emails the notify worker sends: a low-balance alert reaches /__local/mail and the mailbox page', async () => {
    // Prepare: an alert threshold above the demo account's balance, so its next ledger entry fires it.
    const token = stack.demo!.token;
    const settings = await call('/v1/notifications', {
      method: 'PUT',
      token,
      body: JSON.stringify({
        recipients: ['local-ops@example.com'],
        low_balance_threshold: 1_000_000,
        events: { low_balance: true, auto_refill: true, spend_limit: true, invoices: true, receipts: true },
      }),
    });
    expect(settings.status).toBe(200);
    expect((await call('/__local/mail')).status).toBe(401);

    // Act: a ledger entry; the stream poller, the rollups' check, the outbox and the notify worker follow.
    const granted = await call(`/admin/accounts/${stack.demo!.accountId}/credits`, {
      method: 'POST',
      admin: true,
      body: JSON.stringify({ amount: 1, reason: 'wake the alert' }),
    });
    expect(granted.status).toBe(201);
    type Mail = { to: string[]; subject: string; event: string; text: string };
    const mail = await eventually(
      async () => {
        const response = await call('/__local/mail', { admin: true });
        return ((await response.json()) as { data: Mail[] }).data;
      },
      (caught) => caught.some((m) => m.to.includes('local-ops@example.com')),
    );

    // Assess
    const alert = mail.find((m) => m.to.includes('local-ops@example.com'));
    expect(alert).toMatchObject({
      event: 'credits.balance.low',
      subject: 'Your balance is below $1,000,000.00',
    });
    const page = await call('/__local/mailbox');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('Your balance is below $1,000,000.00');
    const dashboard = await (await call('/')).text();
    expect(dashboard).toContain('<a href="/__local/mailbox">Open the local mailbox</a>');
  });

  it('refuses bodies over 10 MB, declared or streamed', async () => {
    const expected = { error: 'Request body is larger than 10485760 bytes', code: 'payload_too_large' };
    const declared = await call('/v1/demo/echo', { method: 'POST', body: 'x'.repeat(10 * 1024 * 1024 + 1) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual(expected);

    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 11) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const streamed = await fetch(`${stack.url}/v1/demo/echo`, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/octet-stream' },
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toEqual(expected);
  });
});

describe('local router', () => {
  function concretePath(path: string): string {
    return path.replace('{proxy+}', 'no/such/route').replace(/\{(\w+)\}/g, 'value-of-$1');
  }

  it.each(routes.map((route) => [routeKey(route), route] as const))('serves %s', (_key, route) => {
    const method = route.method === 'ANY' ? 'PATCH' : route.method;
    const match = matchRoute(method, concretePath(route.path));
    expect(match?.route.function).toBe(route.function);
    expect(match?.routeKey).toBe(routeKey(route));
  });

  it('prefers exact routes over the catch-all and passes path parameters', () => {
    expect(matchRoute('GET', '/v1/credits')?.routeKey).toBe('GET /v1/credits');
    expect(matchRoute('DELETE', '/v1/tokens/tok_1')?.pathParameters).toEqual({ id: 'tok_1' });
    expect(matchRoute('POST', '/admin/accounts/a%20b/credits')?.pathParameters).toEqual({ id: 'a b' });
    expect(matchRoute('GET', '/v1/credits/')?.routeKey).toBe('ANY /{proxy+}');
    expect(matchRoute('GET', '/v1/tokens/')?.routeKey).toBe('ANY /{proxy+}');
    expect(matchRoute('GET', '/x/y')?.pathParameters).toEqual({ proxy: 'x/y' });
    expect(matchRoute('GET', '/')).toBeUndefined();
  });

  it('finds a handler in every function the routes and jobs use', async () => {
    const used = new Set([...routes.map((r) => r.function), ...jobs.map((j) => j.function)]);
    for (const name of used) {
      const module = await import(pathToFileURL(join(repoRoot, functions[name].entry)).href);
      expect(module.handler, functions[name].entry).toBeTypeOf('function');
    }
  });
});
