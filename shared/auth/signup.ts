// Self-serve sign-up (issue 18, an operator setting, off by default): `POST /auth/signup {"email","name"}`
// emails a link; following it opens a prepaid account with that person as its active owner and grants the
// configured sign-up credits once per email address, ever.
//
// The flow's three steps:
//   1. requestSignup: refused as 404 unless SELF_SIGNUP=true; rate limited with sign-in's own counters
//      (shared/auth/rate.ts: per address and per client, fixed 15-minute windows); stores a sign-up link
//      (shared/auth/links.ts, `purpose: "signup"` with the account's name, valid 15 minutes, used once) and
//      emails `<dashboard>/auth/callback?token=<secret>`.
//   2. The callback (functions/auth/auth.ts) uses the link once (links.ts) and, for a sign-up's, calls
//      completeSignup, then signs the person in as the owner it answers (redeemSignupLink does both steps'
//      first half for callers without a session to start).
//   3. completeSignup: the account and its owner member (one transaction, the operator's account creation),
//      then the grant: its ledger entry and the never-deleted `signupGrant(emailHash)` guard in one
//      transaction, so a second sign-up with the address (after the first account was renamed, deleted or
//      abandoned) gets an account but no credits.
import { adjustCredits, createAccount } from '../accounts/service.ts';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import type { TransactItem } from '../dynamo/transact.ts';
import { NotFoundError } from '../errors.ts';
import { newUlid } from '../ids.ts';
import { BoundChangedError } from '../ledger/ledger.ts';
import { emailHash, normalEmail } from '../members/store.ts';
import { brand } from '../notifications/emails.ts';
import { sendEmail } from '../notifications/mailer.ts';
import { signupLinkEmail } from '../notifications/templates.ts';
import { consumeLink, createLink, LINK_LIFETIME_MS, type LinkRefusal } from './links.ts';
import { enforceAuthEmailLimits } from './rate.ts';

/** The reason on the grant's ledger entry. */
export const SIGNUP_CREDITS_REASON = 'sign-up credits';

/** Refused as `not_found` (as if the route did not exist) unless the operator turned sign-up on. */
export function requireSelfSignup(): void {
  if (!config.selfSignup) throw new NotFoundError('Not found');
}

/** Step 1: rate limit, store the sign-up link, email it. Answers nothing (202 whatever the address). */
export async function requestSignup(input: { email: string; name: string }, clientIp: string): Promise<void> {
  requireSelfSignup();
  const email = normalEmail(input.email);
  await enforceAuthEmailLimits(email, clientIp);
  const secret = await createLink(email, 'signup', { name: input.name });
  const look = await brand();
  const message = signupLinkEmail(look, {
    url: `${look.dashboardUrl}/auth/callback?token=${secret}`,
    accountName: input.name,
    validMinutes: LINK_LIFETIME_MS / 60_000,
  });
  // No account exists yet: the message is tagged `signup` in place of an account id.
  await sendEmail({ ...message, to: email, event: 'auth.signup', accountId: 'signup', eventId: newUlid() });
}

export type RedeemedSignup =
  | { status: 'completed'; accountId: string; memberId: string; email: string }
  | { status: LinkRefusal };

/**
 * Uses a sign-up link once and opens its account. An unknown secret, or a link that is not a sign-up's, is
 * `invalid`; a used one `used`; one past its 15 minutes `expired`.
 */
export async function redeemSignupLink(secret: string): Promise<RedeemedSignup> {
  const outcome = await consumeLink(secret);
  if (!outcome.ok) return { status: outcome.reason };
  if (outcome.link.purpose !== 'signup' || !outcome.link.name) return { status: 'invalid' };
  const opened = await completeSignup({ email: outcome.link.email, name: outcome.link.name });
  return { status: 'completed', ...opened, email: outcome.link.email };
}

/** The once-per-address guard: written with the grant's ledger entry, never deleted. */
function signupGrantGuard(email: string, accountId: string, amount: number): TransactItem {
  return {
    Put: {
      TableName: config.tableName,
      Item: {
        ...keys.signupGrant(emailHash(email)),
        kind: 'signup_grant',
        account_id: accountId,
        amount,
        granted_at: nowIso(),
      },
      ConditionExpression: 'attribute_not_exists(PK)',
    },
  };
}

/**
 * Grants SIGNUP_CREDITS to a new account unless its owner's address ever had them: true when granted. The
 * ledger entry and the guard commit together or not at all.
 */
async function grantSignupCredits(accountId: string, email: string): Promise<boolean> {
  const amount = config.signupCredits;
  if (amount <= 0) return false;
  try {
    await adjustCredits({
      accountId,
      amount,
      reason: SIGNUP_CREDITS_REASON,
      entryId: newUlid(),
      bound: signupGrantGuard(email, accountId, amount),
    });
    return true;
  } catch (error) {
    if (error instanceof BoundChangedError) return false;
    throw error;
  }
}

/**
 * Step 3 (the callback calls it, through redeemSignupLink): a prepaid account named `name`, the person its
 * active owner, and the sign-up credits if the address never had them.
 */
export async function completeSignup(input: {
  email: string;
  name: string;
}): Promise<{ accountId: string; memberId: string }> {
  const email = normalEmail(input.email);
  const { account, owner } = await createAccount({
    name: input.name,
    email,
    ownerStatus: 'active',
    actor: { type: 'system' },
  });
  if (!owner) throw new Error('a sign-up opened an account without its owner');
  await grantSignupCredits(account.account_id, email);
  return { accountId: account.account_id, memberId: owner.member_id };
}
