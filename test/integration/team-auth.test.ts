// Email sign-in and dashboard sessions (issue 18), through the real handlers on DynamoDB Local: links used once
// and for 15 minutes, the session cookie's attributes, the route → role table walked for every mutating /v1
// route, the CSRF header, a removed member refused at once, the /auth rate limits against the mail catcher,
// switching accounts and logout. Members are written straight in the design's key layout (PERSON# / MEMBER#),
// so these tests do not depend on the members store.
import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { routeKey, routes } from '#infra/definitions/routes.ts';
import type { Role } from '#shared/auth/caller.ts';
import { emailHashOf } from '#shared/auth/memberships.ts';
import { AUTH_EMAIL_LIMITS } from '#shared/auth/rate.ts';
import { ROUTE_ROLES } from '#shared/auth/route-roles.ts';
import { advanceClock, nowIso, resetClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { newUlid } from '#shared/ids.ts';
import { caughtMail, clearCaughtMail } from '#shared/notifications/mailer.ts';
import { fundedAccount, tableItem } from '../support/accounts.ts';
import { call } from '../support/api.ts';

const CSRF = { 'x-requested-with': 'credits-dashboard' };

beforeAll(() => {
  process.env.PUBLIC_BASE_URL = 'http://localhost:3000';
});

afterEach(() => {
  resetClock();
  delete process.env.SESSION_COOKIE_SECURE;
});

/** A unique client address per test, so the per-client limit of one test never meets another's requests. */
const clientIp = () =>
  `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
const newEmail = (label: string) => `${label}-${randomUUID().slice(0, 8)}@Example.com`;

async function addMember(
  accountId: string,
  email: string,
  role: Role,
  status: 'invited' | 'active' = 'active',
) {
  const memberId = `mem_${newUlid()}`;
  const address = email.trim().toLowerCase();
  const at = nowIso();
  await ddb().send(
    new PutCommand({
      TableName: process.env.TABLE_NAME,
      Item: {
        ...keys.member(accountId, memberId),
        kind: 'member',
        member_id: memberId,
        account_id: accountId,
        email: address,
        role,
        status,
        created_at: at,
        ...(status === 'active' ? { joined_at: at } : {}),
        invited_by: { type: 'system' },
      },
    }),
  );
  await ddb().send(
    new PutCommand({
      TableName: process.env.TABLE_NAME,
      Item: {
        ...keys.personAccount(emailHashOf(address), accountId),
        account_id: accountId,
        member_id: memberId,
        email: address,
      },
    }),
  );
  return memberId;
}

/** Asks for a link and answers the secret from the mail catcher's newest email to `email`. */
async function linkFor(email: string): Promise<string> {
  const asked = await call('POST', '/auth/email', { body: { email }, sourceIp: clientIp() });
  expect(asked.status).toBe(202);
  expect(asked.body).toEqual({ status: 'sent' });
  const mail = caughtMail().find((caught) => caught.to[0] === email.toLowerCase());
  expect(mail?.subject).toMatch(/^Sign in to /);
  const token = /\/auth\/callback\?token=([A-Za-z0-9_-]{43})/.exec(mail?.text ?? '')?.[1];
  expect(token).toBeDefined();
  return token!;
}

/** Signs in by email: the Set-Cookie of the callback, and the `name=value` pair a browser then sends. */
async function signIn(email: string) {
  const callback = await call('GET', '/auth/callback', { query: { token: await linkFor(email) } });
  expect(callback.status).toBe(302);
  expect(callback.headers.location).toBe('http://localhost:3000/');
  const setCookie = callback.cookies[0]!;
  return { setCookie, cookie: setCookie.split(';')[0]! };
}

async function newAccountWith(role: Role, name = 'Team account') {
  const { accountId, token } = await fundedAccount(5, name);
  const email = newEmail(role);
  const memberId = await addMember(accountId, email, role);
  return { accountId, token, email, memberId };
}

describe('sign-in links', () => {
  it('signs a member in once: the second use of the link gets the "already used" page', async () => {
    // Prepare
    const { email } = await newAccountWith('viewer');
    const token = await linkFor(email);

    // Act
    const first = await call('GET', '/auth/callback', { query: { token } });
    const second = await call('GET', '/auth/callback', { query: { token } });

    // Assess
    expect(first.status).toBe(302);
    const credits = await call('GET', '/v1/credits', { cookies: [first.cookies[0]!.split(';')[0]!] });
    expect(credits.status).toBe(200);
    // The account's own balance (newAccountWith funds it with 5 USD).
    expect(credits.body.balance).toBe(5);
    expect(second.status).toBe(410);
    expect(second.headers['content-type']).toMatch(/^text\/html/);
    expect(second.body).toContain('already used');
    expect(second.body).toContain('Get a new sign-in link');
    expect(second.cookies).toEqual([]);
  });

  it('expires at 15 minutes: valid a second before, the "expired" page at 15:00', async () => {
    // Prepare
    const { email } = await newAccountWith('viewer');
    const early = await linkFor(email);
    const late = await linkFor(email);

    // Act
    advanceClock(15 * 60_000 - 1_000);
    const beforeExpiry = await call('GET', '/auth/callback', { query: { token: early } });
    advanceClock(1_000);
    const atExpiry = await call('GET', '/auth/callback', { query: { token: late } });

    // Assess
    expect(beforeExpiry.status).toBe(302);
    expect(atExpiry.status).toBe(410);
    expect(atExpiry.body).toContain('expired');
    expect(atExpiry.cookies).toEqual([]);
  });

  it('refuses a tampered or missing token with the "not valid" page', async () => {
    // Prepare
    const { email } = await newAccountWith('viewer');
    const token = await linkFor(email);
    const tampered = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);

    // Act
    const answers = [
      await call('GET', '/auth/callback', { query: { token: tampered } }),
      await call('GET', '/auth/callback', { query: { token: `${token}x` } }),
      await call('GET', '/auth/callback', { query: { token: '<script>' } }),
      await call('GET', '/auth/callback'),
    ];

    // Assess
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.body).toContain('not valid');
      expect(answer.body).not.toContain('<script>');
      expect(answer.cookies).toEqual([]);
    }
    // The real link still works: a tampered one did not use it.
    expect((await call('GET', '/auth/callback', { query: { token } })).status).toBe(302);
  });

  it('answers a member and an unknown address no sooner than AUTH_EMAIL_MIN_MS, so timing tells nothing', async () => {
    // Prepare
    const { email } = await newAccountWith('viewer');
    process.env.AUTH_EMAIL_MIN_MS = '400';
    try {
      // Act
      const timed = async (address: string) => {
        const started = performance.now();
        const answer = await call('POST', '/auth/email', { body: { email: address }, sourceIp: clientIp() });
        return { status: answer.status, ms: performance.now() - started };
      };
      const member = await timed(email);
      const stranger = await timed(newEmail('stranger'));

      // Assess: both wait out the floor (a lower bound, whatever the machine's speed)
      expect([member.status, stranger.status]).toEqual([202, 202]);
      expect(member.ms).toBeGreaterThanOrEqual(399);
      expect(stranger.ms).toBeGreaterThanOrEqual(399);
    } finally {
      process.env.AUTH_EMAIL_MIN_MS = '0';
    }
  });

  it('answers 202 for an unknown address and sends nothing', async () => {
    // Prepare
    clearCaughtMail();
    const email = newEmail('stranger');

    // Act
    const answer = await call('POST', '/auth/email', { body: { email }, sourceIp: clientIp() });

    // Assess
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ status: 'sent' });
    expect(caughtMail()).toEqual([]);
  });

  it('marks an invited member active when they first sign in', async () => {
    // Prepare
    const { accountId } = await fundedAccount(1, 'Invited to');
    const email = newEmail('invitee');
    const memberId = await addMember(accountId, email, 'billing', 'invited');

    // Act
    await signIn(email);

    // Assess
    const member = await tableItem(keys.member(accountId, memberId));
    expect(member?.status).toBe('active');
    expect(member?.joined_at).toEqual(expect.any(String));
  });

  it('limits one address to 5 links per 15 minutes: of 20 requests in a minute, 15 get 429 and only 5 emails go', async () => {
    // Prepare
    clearCaughtMail();
    const { email } = await newAccountWith('viewer');
    const ip = clientIp();

    // Act
    const answers = [];
    for (let i = 0; i < 20; i++)
      answers.push(await call('POST', '/auth/email', { body: { email }, sourceIp: ip }));

    // Assess
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.slice(0, AUTH_EMAIL_LIMITS.perAddress.limit)).toEqual(Array(5).fill(202));
    expect(statuses.slice(AUTH_EMAIL_LIMITS.perAddress.limit)).toEqual(Array(15).fill(429));
    const refused = answers.at(-1)!;
    expect(refused.body.code).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(caughtMail().filter((mail) => mail.to[0] === email.toLowerCase())).toHaveLength(5);
  });

  it('limits one client to 30 requests per 15 minutes, whatever the addresses', async () => {
    // Prepare
    const ip = clientIp();

    // Act
    const statuses = [];
    for (let i = 0; i < 31; i++)
      statuses.push(
        (await call('POST', '/auth/email', { body: { email: newEmail('spray') }, sourceIp: ip })).status,
      );

    // Assess
    expect(statuses.filter((status) => status === 202)).toHaveLength(AUTH_EMAIL_LIMITS.perClient.limit);
    expect(statuses.at(-1)).toBe(429);
  });
});

describe('the session cookie', () => {
  it('is HttpOnly, SameSite=Strict, Path=/ and not Secure locally, named credits_session', async () => {
    const { email } = await newAccountWith('viewer');

    const { setCookie } = await signIn(email);

    expect(setCookie).toMatch(/^credits_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/');
    expect(setCookie).toMatch(/Max-Age=2592000/);
    expect(setCookie).not.toContain('Secure');
    expect(setCookie).not.toContain('Domain');
  });

  it('is __Host-credits_session and Secure when deployed (SESSION_COOKIE_SECURE=true), and read back under that name', async () => {
    const { email } = await newAccountWith('viewer');
    process.env.SESSION_COOKIE_SECURE = 'true';

    const { setCookie, cookie } = await signIn(email);
    const credits = await call('GET', '/v1/credits', { cookies: [cookie] });
    const plainName = await call('GET', '/v1/credits', { cookies: [cookie.replace('__Host-', '')] });

    expect(setCookie).toMatch(/^__Host-credits_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toContain('; Secure');
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/');
    expect(credits.status).toBe(200);
    // Deployed, the unprefixed name is not the session cookie: the request has no credentials.
    expect(plainName.status).toBe(401);
  });

  it('ends after 7 days without use, and at 30 days however used', async () => {
    const { email } = await newAccountWith('viewer');
    const idle = (await signIn(email)).cookie;
    const busy = (await signIn(email)).cookie;

    advanceClock(7 * 86_400_000 - 60_000);
    expect((await call('GET', '/v1/credits', { cookies: [busy] })).status).toBe(200);
    advanceClock(60_000);
    const idleAnswer = await call('GET', '/v1/credits', { cookies: [idle] });
    for (let day = 0; day < 22; day++) {
      advanceClock(86_400_000);
      expect((await call('GET', '/v1/credits', { cookies: [busy] })).status).toBe(200);
    }
    advanceClock(86_400_000);
    const after30Days = await call('GET', '/v1/credits', { cookies: [busy] });

    expect(idleAnswer.status).toBe(401);
    expect(after30Days.status).toBe(401);
  });
});

describe('roles', () => {
  it('has an entry in the route → role table for every token route', () => {
    const missing = routes
      .filter((route) => route.auth === 'token')
      .map(routeKey)
      .filter((key) => !(key in ROUTE_ROLES));
    expect(missing).toEqual([]);
  });

  it("refuses a viewer's session (403) on every mutating token route, CSRF header and all", async () => {
    // Prepare
    const { email } = await newAccountWith('viewer');
    const { cookie } = await signIn(email);
    const mutating = routes.filter((route) => route.auth === 'token' && route.method !== 'GET');
    expect(mutating.length).toBeGreaterThan(10);

    // Act
    const answers = [];
    for (const route of mutating) {
      const path = route.path.replace(/\{[^}]+\}/g, 'x_1');
      const answer = await call(route.method, path, { cookies: [cookie], headers: CSRF, body: {} });
      answers.push({ route: routeKey(route), status: answer.status, code: answer.body?.code });
    }

    // Assess
    expect(answers.filter((answer) => answer.status !== 403 || answer.code !== 'forbidden')).toEqual([]);
  });

  it('lets each role do what its row allows: viewer reads credits, billing reads auto-refill, owner lists tokens', async () => {
    const { accountId } = await fundedAccount(1, 'Roles');
    const cookies: Record<Role, string> = { viewer: '', billing: '', owner: '' };
    for (const role of ['viewer', 'billing', 'owner'] as const) {
      const email = newEmail(role);
      await addMember(accountId, email, role);
      cookies[role] = (await signIn(email)).cookie;
    }

    const status = async (role: Role, method: string, path: string) =>
      (await call(method, path, { cookies: [cookies[role]] })).status;

    expect(await status('viewer', 'GET', '/v1/credits')).toBe(200);
    expect(await status('viewer', 'GET', '/v1/billing/auto-refill')).toBe(403);
    expect(await status('billing', 'GET', '/v1/billing/auto-refill')).toBe(200);
    expect(await status('billing', 'GET', '/v1/tokens')).toBe(403);
    expect(await status('owner', 'GET', '/v1/tokens')).toBe(200);
  });

  it('refuses a session on the metered routes (tokens only) with 403', async () => {
    const { email } = await newAccountWith('owner');
    const { cookie } = await signIn(email);

    const answer = await call('POST', '/v1/demo/echo', {
      cookies: [cookie],
      headers: CSRF,
      body: { text: 'hi' },
    });

    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatch(/API token/);
  });

  it('needs x-requested-with: credits-dashboard on a mutating cookie request, not on a token request', async () => {
    // Prepare
    const { email, token } = await newAccountWith('owner');
    const { cookie } = await signIn(email);
    const body = { name: 'made by a member' };

    // Act
    const without = await call('POST', '/v1/tokens', { cookies: [cookie], body });
    const wrong = await call('POST', '/v1/tokens', {
      cookies: [cookie],
      body,
      headers: { 'x-requested-with': 'XMLHttpRequest' },
    });
    const withHeader = await call('POST', '/v1/tokens', { cookies: [cookie], body, headers: CSRF });
    const byToken = await call('POST', '/v1/tokens', { token, cookies: [cookie], body });

    // Assess
    expect(without.status).toBe(403);
    expect(without.body.error).toMatch(/x-requested-with/);
    expect(wrong.status).toBe(403);
    expect(withHeader.status).toBe(201);
    // An Authorization header makes it a token request, whatever cookie it carries.
    expect(byToken.status).toBe(201);
  });

  it("refuses a removed member's session on the next request (DELETE /v1/members by an owner)", async () => {
    // Prepare: the account's token invites two owners; one signs in.
    const { token } = await fundedAccount(5, 'Removal');
    const email = newEmail('removed');
    const invited = await call('POST', '/v1/members', { token, body: { email, role: 'owner' } });
    await call('POST', '/v1/members', { token, body: { email: newEmail('stays'), role: 'owner' } });
    const { cookie } = await signIn(email);
    expect((await call('GET', '/v1/tokens', { cookies: [cookie] })).status).toBe(200);

    // Act
    const removed = await call('DELETE', `/v1/members/${invited.body.id}`, { token });
    const next = await call('GET', '/v1/credits', { cookies: [cookie] });

    // Assess
    expect(removed.status).toBe(204);
    expect(next.status).toBe(401);
    expect(next.body.code).toBe('unauthorized');
  });

  it('applies a role changed through PATCH /v1/members on the next request', async () => {
    const { token } = await fundedAccount(5, 'Demotion');
    const email = newEmail('demoted');
    const invited = await call('POST', '/v1/members', { token, body: { email, role: 'owner' } });
    await call('POST', '/v1/members', { token, body: { email: newEmail('owner'), role: 'owner' } });
    const { cookie } = await signIn(email);
    expect((await call('GET', '/v1/tokens', { cookies: [cookie] })).status).toBe(200);

    const changed = await call('PATCH', `/v1/members/${invited.body.id}`, {
      token,
      body: { role: 'viewer' },
    });

    expect(changed.status).toBe(200);
    expect((await call('GET', '/v1/tokens', { cookies: [cookie] })).status).toBe(403);
    expect((await call('GET', '/v1/credits', { cookies: [cookie] })).status).toBe(200);
  });
});

describe('the session routes', () => {
  it('lists the accounts, switches between them (CSRF header needed), and /v1 follows the switch', async () => {
    // Prepare
    const email = newEmail('two-hats');
    const alpha = await fundedAccount(1, 'Alpha');
    const beta = await fundedAccount(2, 'Beta');
    const stranger = await fundedAccount(1, 'Not theirs');
    await addMember(alpha.accountId, email, 'owner', 'invited');
    await addMember(beta.accountId, email, 'viewer', 'invited');
    const { cookie } = await signIn(email);

    // Act
    const unchosen = await call('GET', '/auth/session', { cookies: [cookie] });
    const creditsUnchosen = await call('GET', '/v1/credits', { cookies: [cookie] });
    await call('PUT', '/auth/session', {
      cookies: [cookie],
      headers: CSRF,
      body: { account_id: alpha.accountId },
    });
    const before = await call('GET', '/auth/session', { cookies: [cookie] });
    const noHeader = await call('PUT', '/auth/session', {
      cookies: [cookie],
      body: { account_id: beta.accountId },
    });
    const notMember = await call('PUT', '/auth/session', {
      cookies: [cookie],
      headers: CSRF,
      body: { account_id: stranger.accountId },
    });
    const switched = await call('PUT', '/auth/session', {
      cookies: [cookie],
      headers: CSRF,
      body: { account_id: beta.accountId },
    });
    const tokensInBeta = await call('GET', '/v1/tokens', { cookies: [cookie] });
    const creditsInBeta = await call('GET', '/v1/credits', { cookies: [cookie] });

    // Assess: a member of two accounts picks one after signing in; until then /v1 is refused.
    expect(unchosen.body.account).toBeNull();
    expect(unchosen.body.accounts).toHaveLength(2);
    expect(creditsUnchosen.status).toBe(401);
    expect(before.status).toBe(200);
    expect(before.body).toEqual({
      email: email.toLowerCase(),
      account: { id: alpha.accountId, name: 'Alpha', role: 'owner' },
      accounts: [
        { id: alpha.accountId, name: 'Alpha', role: 'owner' },
        { id: beta.accountId, name: 'Beta', role: 'viewer' },
      ],
    });
    expect(noHeader.status).toBe(403);
    expect(notMember.status).toBe(404);
    expect(switched.status).toBe(200);
    expect(switched.body.account).toEqual({ id: beta.accountId, name: 'Beta', role: 'viewer' });
    expect(tokensInBeta.status).toBe(403);
    expect(creditsInBeta.status).toBe(200);
    expect(creditsInBeta.body.balance).toBe(2);
  });

  it('answers GET /auth/session without a session as signed out (200, email null), not as an error', async () => {
    const none = await call('GET', '/auth/session');
    const bogus = await call('GET', '/auth/session', { cookies: ['credits_session=nope'] });

    const signedOut = { email: null, account: null, accounts: [] };
    expect([none.status, none.body]).toEqual([200, signedOut]);
    expect([bogus.status, bogus.body]).toEqual([200, signedOut]);
  });

  it('logs out: 204, the cookie cleared, and the old cookie refused everywhere', async () => {
    // Prepare
    const { email } = await newAccountWith('billing');
    const { cookie } = await signIn(email);

    // Act
    const withoutHeader = await call('POST', '/auth/logout', { cookies: [cookie] });
    const logout = await call('POST', '/auth/logout', { cookies: [cookie], headers: CSRF });
    const credits = await call('GET', '/v1/credits', { cookies: [cookie] });
    const session = await call('GET', '/auth/session', { cookies: [cookie] });

    // Assess
    expect(withoutHeader.status).toBe(403);
    expect(logout.status).toBe(204);
    expect(logout.cookies[0]).toMatch(/^credits_session=;.*Max-Age=0/);
    expect(credits.status).toBe(401);
    expect(session.status).toBe(200);
    expect(session.body.email).toBeNull();
  });
});
