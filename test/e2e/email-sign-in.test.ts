// Email sign-in over real HTTP against the local stack (`npm start`'s server): the link from the mail catcher
// (`GET /__local/mail`), the callback's Set-Cookie as a browser receives it, the cookie sent back on /v1 and
// /auth routes, the CSRF header, and logout. Members are written in the design's key layout directly.
import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { Role } from '#shared/auth/caller.ts';
import { emailHashOf } from '#shared/auth/memberships.ts';
import { nowIso } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { newUlid } from '#shared/ids.ts';
import { useLocalStack } from '../support/stack.ts';

const ADMIN_KEY = 'e2e-sign-in-admin-key';
const stackOf = useLocalStack('e2e-sign-in', { adminApiKey: ADMIN_KEY });
const CSRF = { 'x-requested-with': 'credits-dashboard' };

async function send(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: unknown } = {},
) {
  return fetch(`${stackOf().url}${path}`, {
    method,
    redirect: 'manual',
    headers: { 'content-type': 'application/json', ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
}

async function accountWith(email: string, role: Role, name: string): Promise<string> {
  const created = await send('POST', '/admin/accounts', {
    headers: { 'x-admin-key': ADMIN_KEY },
    body: { name },
  });
  expect(created.status).toBe(201);
  const { account_id: accountId } = (await created.json()) as { account_id: string };
  const memberId = `mem_${newUlid()}`;
  const at = nowIso();
  // The stack runs in this process, on the table its environment names.
  for (const Item of [
    {
      ...keys.member(accountId, memberId),
      member_id: memberId,
      account_id: accountId,
      email,
      role,
      status: 'invited',
      created_at: at,
      invited_by: { type: 'system' },
    },
    {
      ...keys.personAccount(emailHashOf(email), accountId),
      account_id: accountId,
      member_id: memberId,
      email,
    },
  ])
    await ddb().send(new PutCommand({ TableName: process.env.TABLE_NAME, Item }));
  return accountId;
}

describe('email sign-in through the local stack', () => {
  it('signs in from the caught email, uses the cookie on /v1 and /auth, switches, and logs out', async () => {
    // Prepare
    const email = `person-${randomUUID().slice(0, 8)}@example.com`;
    const first = await accountWith(email, 'owner', 'A first');
    const second = await accountWith(email, 'viewer', 'B second');

    // Act: the link, as the mail catcher shows it
    expect((await send('POST', '/auth/email', { body: { email } })).status).toBe(202);
    const mail = (await (
      await send('GET', '/__local/mail', { headers: { 'x-admin-key': ADMIN_KEY } })
    ).json()) as {
      data: { to: string[]; text: string }[];
    };
    const link = /(http:\/\/localhost:\d+\/auth\/callback\?token=[A-Za-z0-9_-]{43})/.exec(
      mail.data.find((caught) => caught.to[0] === email)?.text ?? '',
    )?.[1];
    expect(link).toBeDefined();
    const callback = await fetch(link!.replace('localhost', '127.0.0.1'), { redirect: 'manual' });

    // Assess
    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toMatch(/^http:\/\/localhost:\d+\/$/);
    const setCookie = callback.headers.getSetCookie();
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(
      /^credits_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/,
    );
    const cookie = { cookie: setCookie[0]!.split(';')[0]! };

    // A member of two accounts picks one first: until then the session acts in none.
    const session = await send('GET', '/auth/session', { headers: cookie });
    expect(session.status).toBe(200);
    expect(((await session.json()) as { account: unknown }).account).toBeNull();
    expect((await send('GET', '/v1/credits', { headers: cookie })).status).toBe(401);
    const picked = await send('PUT', '/auth/session', {
      headers: { ...cookie, ...CSRF },
      body: { account_id: first },
    });
    expect(picked.status).toBe(200);
    expect((await send('GET', '/v1/tokens', { headers: cookie })).status).toBe(200);
    expect((await send('POST', '/v1/tokens', { headers: cookie, body: { name: 'x' } })).status).toBe(403);

    const switched = await send('PUT', '/auth/session', {
      headers: { ...cookie, ...CSRF },
      body: { account_id: second },
    });
    expect(switched.status).toBe(200);
    expect((await send('GET', '/v1/tokens', { headers: cookie })).status).toBe(403);
    expect((await send('GET', '/v1/credits', { headers: cookie })).status).toBe(200);

    const logout = await send('POST', '/auth/logout', { headers: { ...cookie, ...CSRF } });
    expect(logout.status).toBe(204);
    expect(logout.headers.getSetCookie()[0]).toMatch(/^credits_session=; .*Max-Age=0/);
    expect((await send('GET', '/v1/credits', { headers: cookie })).status).toBe(401);
  });
});
