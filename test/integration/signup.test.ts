// Self-serve sign-up (issue 18 item 5): off by default (404); when on, POST /auth/signup emails a link that
// is usable once within 15 minutes and opens a prepaid account with the person as its active owner; the
// sign-up credits are granted once per email address ever, whatever happened to the first account.

import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LINK_LIFETIME_MS } from '#shared/auth/links.ts';
import { AUTH_EMAIL_LIMITS } from '#shared/auth/rate.ts';
import { completeSignup, redeemSignupLink, SIGNUP_CREDITS_REASON } from '#shared/auth/signup.ts';
import { advanceClock, resetClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { emailHash, getMember, listMembers, membershipsOf } from '#shared/members/store.ts';
import { caughtMail, clearCaughtMail } from '#shared/notifications/mailer.ts';
import { accountMoney, ledgerEntries, tableItem } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { expectContractError } from '../support/assertions.ts';

const saved: Record<string, string | undefined> = {};
const SETTINGS = ['SELF_SIGNUP', 'SIGNUP_CREDITS', 'PUBLIC_BASE_URL'];

function configure(values: Record<string, string | undefined>) {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

beforeEach(() => {
  for (const name of SETTINGS) saved[name] = process.env[name];
  configure({ SELF_SIGNUP: 'true', SIGNUP_CREDITS: '5', PUBLIC_BASE_URL: 'http://localhost:3000' });
  clearCaughtMail();
});

afterEach(() => {
  configure(saved);
  resetClock();
});

/** Every call comes from one client address (127.0.0.1): the tests stay under its 30 a window. */
function signup(body: unknown) {
  return call('POST', '/auth/signup', { body });
}

/** The secret of the newest sign-up link emailed to `email`. */
function linkSecret(email: string): string {
  const mail = caughtMail().find((m) => m.to.includes(email) && m.event === 'auth.signup');
  if (!mail) throw new Error(`no sign-up email to ${email}`);
  const match = /\/auth\/callback\?token=([A-Za-z0-9_-]{43})/.exec(mail.text);
  if (!match?.[1]) throw new Error(`no link in ${mail.text}`);
  return match[1];
}

async function signupGrants(accountId: string) {
  return (await ledgerEntries(accountId)).filter((entry) => entry.reason === SIGNUP_CREDITS_REASON);
}

describe('POST /auth/signup', () => {
  it('is 404 not_found when SELF_SIGNUP is not "true", even with a malformed body, and sends nothing', async () => {
    // Prepare
    configure({ SELF_SIGNUP: undefined });

    // Act
    const answer = await signup({ email: 'someone@example.com', name: 'Someone' });
    const malformed = await signup({ nope: true });
    configure({ SELF_SIGNUP: 'false' });
    const off = await signup({ email: 'someone@example.com', name: 'Someone' });

    // Assess
    expectContractError(answer, 404, 'not_found');
    expectContractError(malformed, 404, 'not_found');
    expectContractError(off, 404, 'not_found');
    expect(caughtMail()).toEqual([]);
  });

  it('answers 202 and emails a link; following it opens a prepaid account, the person its active owner, with the credits', async () => {
    // Act
    const answer = await signup({ email: ' New@Example.com ', name: 'New Co' });
    const redeemed = await redeemSignupLink(linkSecret('new@example.com'));

    // Assess
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ status: 'sent' });
    const mail = caughtMail().find((m) => m.event === 'auth.signup');
    expect(mail?.text).toContain('http://localhost:3000/auth/callback?token=');
    expect(redeemed).toMatchObject({ status: 'completed', email: 'new@example.com' });
    if (redeemed.status !== 'completed') throw new Error('not completed');
    const account = await accountMoney(redeemed.accountId);
    expect(account).toMatchObject({ name: 'New Co', billing_mode: 'prepaid', balance: 5_000_000 });
    const members = await listMembers(redeemed.accountId);
    expect(members).toEqual([
      expect.objectContaining({
        member_id: redeemed.memberId,
        email: 'new@example.com',
        role: 'owner',
        status: 'active',
        invited_by: { type: 'system' },
      }),
    ]);
    expect(await membershipsOf('new@example.com')).toEqual([
      { account_id: redeemed.accountId, member_id: redeemed.memberId },
    ]);
    const grants = await signupGrants(redeemed.accountId);
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ type: 'grant', amount: 5_000_000 });
  });

  it('a link works once: the second use is refused as used, and opens nothing', async () => {
    // Prepare
    await signup({ email: 'twice@example.com', name: 'Twice' });
    const secret = linkSecret('twice@example.com');

    // Act
    const first = await redeemSignupLink(secret);
    const second = await redeemSignupLink(secret);

    // Assess
    expect(first.status).toBe('completed');
    expect(second).toEqual({ status: 'used' });
    expect(await membershipsOf('twice@example.com')).toHaveLength(1);
  });

  it('a link is refused as expired after 15 minutes; an unknown secret is invalid', async () => {
    // Prepare
    await signup({ email: 'late@example.com', name: 'Late' });
    const secret = linkSecret('late@example.com');

    // Act
    advanceClock(LINK_LIFETIME_MS + 1);
    const late = await redeemSignupLink(secret);
    const unknown = await redeemSignupLink('A'.repeat(43));

    // Assess
    expect(late).toEqual({ status: 'expired' });
    expect(unknown).toEqual({ status: 'invalid' });
    expect(await membershipsOf('late@example.com')).toEqual([]);
  });

  it('is rate limited per address: past 5 in 15 minutes, 429 with retry-after and no more email', async () => {
    // Prepare
    const body = { email: 'eager@example.com', name: 'Eager' };
    for (let i = 0; i < AUTH_EMAIL_LIMITS.perAddress.limit; i++)
      expect((await signup(body)).status).toBe(202);

    // Act
    const refused = await signup(body);
    advanceClock(15 * 60_000);
    const nextWindow = await signup(body);

    // Assess
    expectContractError(refused, 429, 'rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(15 * 60);
    expect(nextWindow.status).toBe(202);
    expect(caughtMail().filter((m) => m.to.includes('eager@example.com'))).toHaveLength(
      AUTH_EMAIL_LIMITS.perAddress.limit + 1,
    );
  });

  it('names the field of a malformed body (400) when sign-up is on', async () => {
    // Act
    const answer = await signup({ email: 'not-an-address', name: 'X' });

    // Assess
    expectContractError(answer, 400, 'invalid_request', { details: true, field: 'email' });
  });
});

describe('completeSignup: sign-up credits once per address, ever', () => {
  it('a second sign-up with the same address opens an account without credits', async () => {
    // Act
    const first = await completeSignup({ email: 'repeat@example.com', name: 'First' });
    const second = await completeSignup({ email: 'REPEAT@example.com', name: 'Second' });

    // Assess
    expect((await accountMoney(first.accountId)).balance).toBe(5_000_000);
    expect((await accountMoney(second.accountId)).balance).toBe(0);
    expect(await signupGrants(second.accountId)).toEqual([]);
    expect((await getMember(second.accountId, second.memberId))?.role).toBe('owner');
    expect(await tableItem(keys.signupGrant(emailHash('repeat@example.com')))).toMatchObject({
      account_id: first.accountId,
    });
  });

  it('after the first account is deleted (and its membership gone), the address still gets no second grant', async () => {
    // Prepare: the first account and everything that pointed at it deleted, as an operator's clean-up would.
    const first = await completeSignup({ email: 'phoenix@example.com', name: 'Gone' });
    for (const key of [
      keys.account(first.accountId),
      keys.member(first.accountId, first.memberId),
      keys.personAccount(emailHash('phoenix@example.com'), first.accountId),
    ]) {
      await ddb().send(new DeleteCommand({ TableName: process.env.TABLE_NAME, Key: key }));
    }
    expect(await membershipsOf('phoenix@example.com')).toEqual([]);

    // Act
    const again = await completeSignup({ email: 'phoenix@example.com', name: 'Renamed Co' });

    // Assess
    expect((await accountMoney(again.accountId)).balance).toBe(0);
    expect(await signupGrants(again.accountId)).toEqual([]);
  });

  it('two sign-ups of one address at once: two accounts, the credits once', async () => {
    // Act
    const both = await Promise.all([
      completeSignup({ email: 'racer@example.com', name: 'A' }),
      completeSignup({ email: 'racer@example.com', name: 'B' }),
    ]);

    // Assess
    const balances = await Promise.all(both.map(async (s) => (await accountMoney(s.accountId)).balance));
    expect(balances.sort()).toEqual([0, 5_000_000]);
  });

  it('SIGNUP_CREDITS unset: no grant, no guard', async () => {
    // Prepare
    configure({ SIGNUP_CREDITS: undefined });

    // Act
    const opened = await completeSignup({ email: 'free@example.com', name: 'Free' });

    // Assess
    expect((await accountMoney(opened.accountId)).balance).toBe(0);
    expect(await tableItem(keys.signupGrant(emailHash('free@example.com')))).toBeUndefined();
  });
});
