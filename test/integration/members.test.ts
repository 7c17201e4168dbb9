// Members of an account (issue 18): invited by email through /v1/members, listed, given another role and
// removed, with the rules the store's transactions keep under races: at least one owner, at most 100
// members, an address once per account, and a removed member's person mapping gone with them.
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys } from '#shared/dynamo/keys.ts';
import {
  changeRole,
  emailHash,
  getMember,
  inviteMember,
  LastOwnerError,
  MAX_MEMBERS,
  markJoined,
  membershipsOf,
  removeMember,
} from '#shared/members/store.ts';
import { caughtMail, clearCaughtMail, setSesClient } from '#shared/notifications/mailer.ts';
import { fundedAccount, tableItem } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { expectContractError, REQUEST_ID } from '../support/assertions.ts';

const MEMBER_ID = /^mem_[0-9A-HJKMNP-TV-Z]{26}$/;
const operator = { type: 'operator' } as const;

let previousBaseUrl: string | undefined;

beforeEach(() => {
  clearCaughtMail();
  previousBaseUrl = process.env.PUBLIC_BASE_URL;
  process.env.PUBLIC_BASE_URL = 'http://localhost:3000';
});

afterEach(() => {
  if (previousBaseUrl === undefined) delete process.env.PUBLIC_BASE_URL;
  else process.env.PUBLIC_BASE_URL = previousBaseUrl;
});

async function invite(token: string, email: string, role: string) {
  return call('POST', '/v1/members', { token, body: { email, role } });
}

async function memberCount(accountId: string) {
  const item = await tableItem(keys.memberCount(accountId));
  return { owners: item?.owners, members: item?.members };
}

describe('the members API', () => {
  it('invites a member: 201 with the member, an invitation email with the sign-in page, and the person mapping', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0, 'Acme Corp');

    // Act
    const response = await invite(token, '  Finance@Example.COM ', 'billing');

    // Assess
    expect(response.status).toBe(201);
    expect(response.headers['x-request-id']).toMatch(REQUEST_ID);
    expect(response.body).toEqual({
      id: expect.stringMatching(MEMBER_ID),
      email: 'finance@example.com',
      role: 'billing',
      status: 'invited',
      created_at: expect.any(String),
      joined_at: null,
    });
    const mail = caughtMail().filter((m) => m.to.includes('finance@example.com'));
    expect(mail).toHaveLength(1);
    expect(mail[0]?.account_id).toBe(accountId);
    expect(mail[0]?.subject).toContain('Acme Corp');
    expect(mail[0]?.text).toContain('http://localhost:3000/?signin=finance%40example.com');
    expect(mail[0]?.html).toContain('href="http://localhost:3000/?signin=finance%40example.com"');
    expect(await membershipsOf('FINANCE@example.com')).toEqual([
      { account_id: accountId, member_id: response.body.id },
    ]);
    expect(await memberCount(accountId)).toEqual({ owners: 0, members: 1 });
  });

  it('lists, changes the role of and removes members; an unknown id is 404', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0);
    const owner = (await invite(token, 'owner@example.com', 'owner')).body;
    const viewer = (await invite(token, 'viewer@example.com', 'viewer')).body;

    // Act
    const listed = await call('GET', '/v1/members', { token });
    const promoted = await call('PATCH', `/v1/members/${viewer.id}`, { token, body: { role: 'owner' } });
    const removed = await call('DELETE', `/v1/members/${owner.id}`, { token });
    const after = await call('GET', '/v1/members', { token });
    const unknownPatch = await call('PATCH', '/v1/members/mem_01JZZZZZZZZZZZZZZZZZZZZZZZ', {
      token,
      body: { role: 'viewer' },
    });
    const unknownDelete = await call('DELETE', '/v1/members/mem_01JZZZZZZZZZZZZZZZZZZZZZZZ', { token });
    const badRole = await call('PATCH', `/v1/members/${viewer.id}`, { token, body: { role: 'admin' } });

    // Assess
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((m: { email: string }) => m.email)).toEqual([
      'owner@example.com',
      'viewer@example.com',
    ]);
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({ id: viewer.id, role: 'owner', status: 'invited' });
    expect(removed.status).toBe(204);
    expect(after.body.data).toEqual([{ ...viewer, role: 'owner' }]);
    expectContractError(unknownPatch, 404, 'not_found');
    expectContractError(unknownDelete, 404, 'not_found');
    expectContractError(badRole, 400, 'invalid_request', { details: true, field: 'role' });
    expect(await memberCount(accountId)).toEqual({ owners: 1, members: 1 });
  });

  it('refuses an address that is already a member (409 already_member), whatever its case', async () => {
    // Prepare
    const { token } = await fundedAccount(0);
    await invite(token, 'dup@example.com', 'viewer');

    // Act
    const again = await invite(token, 'DUP@example.com', 'owner');

    // Assess
    expectContractError(again, 409, 'already_member');
    const listed = await call('GET', '/v1/members', { token });
    expect(listed.body.data).toHaveLength(1);
  });

  it('the same address may be a member of several accounts', async () => {
    // Prepare
    const first = await fundedAccount(0);
    const second = await fundedAccount(0);

    // Act
    const a = await invite(first.token, 'both@example.com', 'owner');
    const b = await invite(second.token, 'both@example.com', 'viewer');

    // Assess
    expect([a.status, b.status]).toEqual([201, 201]);
    const memberships = await membershipsOf('both@example.com');
    expect(memberships.map((m) => m.account_id).sort()).toEqual([first.accountId, second.accountId].sort());
  });

  it('keeps the last owner: demoting or removing them is 409 last_owner, and nothing changes', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0);
    const owner = (await invite(token, 'only-owner@example.com', 'owner')).body;

    // Act
    const demoted = await call('PATCH', `/v1/members/${owner.id}`, { token, body: { role: 'billing' } });
    const removed = await call('DELETE', `/v1/members/${owner.id}`, { token });

    // Assess
    expectContractError(demoted, 409, 'last_owner');
    expectContractError(removed, 409, 'last_owner');
    expect((await getMember(accountId, owner.id))?.role).toBe('owner');
    expect(await memberCount(accountId)).toEqual({ owners: 1, members: 1 });
  });

  it('removing a member deletes their person mapping, so sign-in no longer lists the account', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0);
    const member = (await invite(token, 'leaver@example.com', 'billing')).body;
    const mapping = keys.personAccount(emailHash('leaver@example.com'), accountId);
    expect(await tableItem(mapping)).toBeDefined();

    // Act
    const removed = await call('DELETE', `/v1/members/${member.id}`, { token });

    // Assess
    expect(removed.status).toBe(204);
    expect(await tableItem(mapping)).toBeUndefined();
    expect(await tableItem(keys.member(accountId, member.id))).toBeUndefined();
    expect(await membershipsOf('leaver@example.com')).toEqual([]);
    // The address can be invited again: a new member, with a new id.
    const again = await invite(token, 'leaver@example.com', 'viewer');
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(member.id);
  });

  it('honours Idempotency-Key on POST: the replay answers the same member, one invitation email', async () => {
    // Prepare
    const { token } = await fundedAccount(0);
    const headers = { 'idempotency-key': `invite-${Date.now()}` };

    // Act
    const first = await call('POST', '/v1/members', {
      token,
      headers,
      body: { email: 'once@example.com', role: 'viewer' },
    });
    const replay = await call('POST', '/v1/members', {
      token,
      headers,
      body: { email: 'once@example.com', role: 'viewer' },
    });

    // Assess
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expect(caughtMail().filter((m) => m.to.includes('once@example.com'))).toHaveLength(1);
  });

  it('an invitation whose email fails still adds the member (they can sign in from the dashboard)', async () => {
    // Prepare: SES refuses every send.
    const { accountId, token } = await fundedAccount(0);
    const previousFrom = process.env.NOTIFY_FROM;
    process.env.NOTIFY_FROM = 'billing@example.com';
    setSesClient({
      send: async () => {
        throw new Error('SES is down');
      },
    } as unknown as SESv2Client);

    // Act
    let response: Awaited<ReturnType<typeof invite>>;
    try {
      response = await invite(token, 'unlucky@example.com', 'viewer');
    } finally {
      setSesClient(undefined);
      if (previousFrom === undefined) delete process.env.NOTIFY_FROM;
      else process.env.NOTIFY_FROM = previousFrom;
    }

    // Assess
    expect(response.status).toBe(201);
    expect(await membershipsOf('unlucky@example.com')).toEqual([
      { account_id: accountId, member_id: response.body.id },
    ]);
  });

  it('needs a billing token: an api token is 403', async () => {
    // Prepare
    const { token } = await fundedAccount(0);
    const apiToken = (
      await call('POST', '/v1/tokens', { token, body: { name: 'api only', scopes: ['api'] } })
    ).body.token as string;

    // Act
    const listed = await call('GET', '/v1/members', { token: apiToken });
    const invited = await invite(apiToken, 'x@example.com', 'owner');

    // Assess
    expectContractError(listed, 403, 'forbidden');
    expectContractError(invited, 403, 'forbidden');
  });
});

describe('the owner invariant and the cap, under races', () => {
  it('two concurrent demotions of the last two owners: one succeeds, the other is 409 last_owner', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0);
    const a = (await invite(token, 'owner-a@example.com', 'owner')).body;
    const b = (await invite(token, 'owner-b@example.com', 'owner')).body;

    // Act
    const answers = await Promise.all([
      call('PATCH', `/v1/members/${a.id}`, { token, body: { role: 'viewer' } }),
      call('PATCH', `/v1/members/${b.id}`, { token, body: { role: 'viewer' } }),
    ]);

    // Assess
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    const refused = answers.find((r) => r.status === 409)!;
    expectContractError(refused, 409, 'last_owner');
    const roles = [(await getMember(accountId, a.id))?.role, (await getMember(accountId, b.id))?.role];
    expect(roles.filter((r) => r === 'owner')).toHaveLength(1);
    expect(await memberCount(accountId)).toEqual({ owners: 1, members: 2 });
  });

  it('a concurrent removal and demotion of the last two owners leave exactly one owner', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0);
    const a = (await invite(token, 'race-a@example.com', 'owner')).body;
    const b = (await invite(token, 'race-b@example.com', 'owner')).body;

    // Act
    const outcomes = await Promise.allSettled([
      removeMember(accountId, a.id, operator),
      changeRole(accountId, b.id, 'billing', operator),
    ]);

    // Assess
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(LastOwnerError);
    const owners = (await call('GET', '/v1/members', { token })).body.data.filter(
      (m: { role: string }) => m.role === 'owner',
    );
    expect(owners).toHaveLength(1);
    expect((await memberCount(accountId)).owners).toBe(1);
  });

  it(`refuses a member past the cap of ${MAX_MEMBERS} (409 too_many_members), also when invitations race`, async () => {
    // Prepare: the account one below the cap.
    const { accountId, token } = await fundedAccount(0);
    for (let i = 0; i < MAX_MEMBERS - 1; i++) {
      await inviteMember(accountId, { email: `m${i}@example.com`, role: 'viewer' }, operator);
    }

    // Act: two invitations race for the last place.
    const answers = await Promise.all([
      invite(token, 'last-a@example.com', 'viewer'),
      invite(token, 'last-b@example.com', 'viewer'),
    ]);

    // Assess
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
    expectContractError(answers.find((r) => r.status === 409)!, 409, 'too_many_members');
    expect(await memberCount(accountId)).toEqual({ owners: 0, members: MAX_MEMBERS });
  });
});

describe('markJoined', () => {
  it('turns an invited member active once, and is idempotent; a removed member is undefined', async () => {
    // Prepare
    const { accountId } = await fundedAccount(0);
    const member = await inviteMember(accountId, { email: 'joiner@example.com', role: 'billing' }, operator);

    // Act
    const first = await markJoined(accountId, member.member_id);
    const second = await markJoined(accountId, member.member_id);
    await removeMember(accountId, member.member_id, operator);
    const gone = await markJoined(accountId, member.member_id);

    // Assess
    expect(first).toMatchObject({ status: 'active', joined_at: expect.any(String) });
    expect(second).toEqual(first);
    expect(gone).toBeUndefined();
  });
});

describe('the operator opens an account with its first owner', () => {
  it('POST /admin/accounts with email: that person is the invited owner, and gets the invitation', async () => {
    // Act
    const response = await call('POST', '/admin/accounts', {
      body: { name: 'Owned Inc', email: 'Founder@Example.com' },
    });

    // Assess
    expect(response.status).toBe(201);
    const accountId = response.body.account_id as string;
    const members = (await call('GET', '/v1/members', { token: response.body.token })).body.data;
    expect(members).toEqual([
      {
        id: expect.stringMatching(MEMBER_ID),
        email: 'founder@example.com',
        role: 'owner',
        status: 'invited',
        created_at: expect.any(String),
        joined_at: null,
      },
    ]);
    expect(await memberCount(accountId)).toEqual({ owners: 1, members: 1 });
    expect(await membershipsOf('founder@example.com')).toEqual([
      { account_id: accountId, member_id: members[0].id },
    ]);
    const mail = caughtMail().filter((m) => m.to.includes('founder@example.com'));
    expect(mail).toHaveLength(1);
    expect(mail[0]?.subject).toContain('Owned Inc');
    expect(mail[0]?.text).toContain('http://localhost:3000/?signin=founder%40example.com');
    const member = await getMember(accountId, members[0].id);
    expect(member?.invited_by).toEqual({ type: 'operator' });
  });

  it('without email: no member, no email', async () => {
    // Act
    const response = await call('POST', '/admin/accounts', { body: { name: 'Tokens only' } });

    // Assess
    expect(response.status).toBe(201);
    const members = await call('GET', '/v1/members', { token: response.body.token });
    expect(members.body.data).toEqual([]);
    expect(caughtMail()).toEqual([]);
  });
});
