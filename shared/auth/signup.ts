// Self-serve sign-up (issue 18, an operator setting, off by default): `POST /auth/signup {"email","name"}`
// emails a link; following it opens a prepaid account with that person as its active owner and grants the
// configured sign-up credits once per email address, ever.
//
// The flow's three steps:
//   1. requestSignup: refused as 404 unless SELF_SIGNUP=true; rate limited per address and per client
//      (fixed 15-minute windows on keys.authRate, like sign-in); stores a pending sign-up under the hash of a
//      random 256-bit secret (keys.signInLink, `purpose: "signup"`, valid 15 minutes) and emails the link
//      `<dashboard>/auth/callback?token=<secret>`.
//   2. redeemSignupLink: one conditional write marks the link used (unknown, used and expired links are
//      refused), then completeSignup. The sign-in callback (shared/auth/links.ts, functions/auth/) calls it
//      for links whose `purpose` is "signup", and signs the person in as the member it answers.
//   3. completeSignup: the account and its owner member (one transaction, the operator's account creation),
//      then the grant: its ledger entry and the never-deleted `signupGrant(emailHash)` guard in one
//      transaction, so a second sign-up with the address (after the first account was renamed, deleted or
//      abandoned) gets an account but no credits.
//
// The small fixed-window counter is here because the sign-in's rate limiter (shared/auth/rate.ts) was not
// there yet when this was written; both use the same keys and windows, so one can replace the other.
import { randomBytes } from 'node:crypto';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { adjustCredits, createAccount } from '../accounts/service.ts';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { isConditionFailure, type TransactItem, updateOrCurrent } from '../dynamo/transact.ts';
import { NotFoundError, RateLimitedError } from '../errors.ts';
import { newUlid, sha256Hex } from '../ids.ts';
import { BoundChangedError } from '../ledger/ledger.ts';
import { emailHash, normalEmail } from '../members/store.ts';
import { brand } from '../notifications/emails.ts';
import { sendEmail } from '../notifications/mailer.ts';
import { signupLinkEmail } from '../notifications/templates.ts';

/** A sign-up link works this long after it is sent, once. */
export const SIGNUP_LINK_VALID_MS = 15 * 60_000;
/** A used or expired link item is kept this long (TTL), so a late click still gets "used" or "expired". */
const LINK_KEPT_SECONDS = 7 * 86_400;

/** The /auth rate limits, as for sign-in: per address and per client, in fixed 15-minute windows. */
export const AUTH_RATE_WINDOW_MS = 15 * 60_000;
export const SIGNUPS_PER_ADDRESS = 5;
export const SIGNUPS_PER_CLIENT = 30;

/** The reason on the grant's ledger entry. */
export const SIGNUP_CREDITS_REASON = 'sign-up credits';

/** Too many /auth requests for one address or client in the current window. */
export class AuthRateLimitedError extends RateLimitedError {
  constructor(retryAfterSeconds: number) {
    super(retryAfterSeconds);
    this.message = 'Too many requests for this address or client; retry after the time in retry-after';
  }
}

/**
 * Counts one request of `subject` (`EMAIL#<hash>` or `CLIENT#<ip>`) in the current window, refusing it
 * (429 with retry-after) when the window already holds `limit`. The counter expires by TTL after its window.
 */
export async function countAuthRequest(subject: string, limit: number): Promise<void> {
  const now = nowMs();
  const windowStart = now - (now % AUTH_RATE_WINDOW_MS);
  const windowEnd = windowStart + AUTH_RATE_WINDOW_MS;
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.authRate(subject, new Date(windowStart).toISOString()),
        UpdateExpression: 'ADD #count :one SET expires_at = :ttl',
        ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
        ExpressionAttributeNames: { '#count': 'count' },
        ExpressionAttributeValues: { ':one': 1, ':limit': limit, ':ttl': Math.ceil(windowEnd / 1000) + 3600 },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    throw new AuthRateLimitedError(Math.max(1, Math.ceil((windowEnd - now) / 1000)));
  }
}

/** Refused as `not_found` (as if the route did not exist) unless the operator turned sign-up on. */
export function requireSelfSignup(): void {
  if (!config.selfSignup) throw new NotFoundError('Not found');
}

/** The pending sign-up's link item, by the hash of its secret. */
export type SignupLink = {
  purpose: 'signup';
  email: string;
  name: string;
  created_at: string;
  /** ISO: the link is refused from this instant on. */
  valid_until: string;
  used_at?: string;
};

/** Step 1: rate limit, store the pending sign-up, email its link. Answers nothing (202 whatever the address). */
export async function requestSignup(input: { email: string; name: string }, clientIp: string): Promise<void> {
  requireSelfSignup();
  const email = normalEmail(input.email);
  await countAuthRequest(`EMAIL#${emailHash(email)}`, SIGNUPS_PER_ADDRESS);
  await countAuthRequest(`CLIENT#${clientIp}`, SIGNUPS_PER_CLIENT);
  const secret = randomBytes(32).toString('base64url');
  const at = nowMs();
  const link: SignupLink = {
    purpose: 'signup',
    email,
    name: input.name,
    created_at: new Date(at).toISOString(),
    valid_until: new Date(at + SIGNUP_LINK_VALID_MS).toISOString(),
  };
  await ddb().send(
    new PutCommand({
      TableName: config.tableName,
      Item: {
        ...keys.signInLink(sha256Hex(secret)),
        kind: 'signin_link',
        ...link,
        expires_at: Math.ceil((at + SIGNUP_LINK_VALID_MS) / 1000) + LINK_KEPT_SECONDS,
      },
      ConditionExpression: 'attribute_not_exists(PK)',
    }),
  );
  const look = await brand();
  const message = signupLinkEmail(look, {
    url: `${look.dashboardUrl}/auth/callback?token=${secret}`,
    accountName: input.name,
    validMinutes: SIGNUP_LINK_VALID_MS / 60_000,
  });
  // No account exists yet: the message is tagged `signup` in place of an account id.
  await sendEmail({ ...message, to: email, event: 'auth.signup', accountId: 'signup', eventId: newUlid() });
}

export type RedeemedSignup =
  | { status: 'completed'; accountId: string; memberId: string; email: string }
  | { status: 'invalid' | 'used' | 'expired' };

/**
 * Step 2: uses a sign-up link once (one conditional write), then opens the account. An unknown secret, or a
 * link that is not a sign-up's, is `invalid`; a used one `used`; one past its 15 minutes `expired`.
 */
export async function redeemSignupLink(secret: string): Promise<RedeemedSignup> {
  const now = nowIso();
  const outcome = await updateOrCurrent({
    TableName: config.tableName,
    Key: keys.signInLink(sha256Hex(secret)),
    UpdateExpression: 'SET used_at = :now',
    ConditionExpression:
      'attribute_exists(PK) AND purpose = :signup AND attribute_not_exists(used_at) AND valid_until > :now',
    ExpressionAttributeValues: { ':now': now, ':signup': 'signup' },
  });
  if (!outcome.written) {
    const link = outcome.item as Partial<SignupLink> | undefined;
    if (link?.purpose !== 'signup') return { status: 'invalid' };
    return { status: link.used_at ? 'used' : 'expired' };
  }
  const link = outcome.item as unknown as SignupLink;
  const opened = await completeSignup({ email: link.email, name: link.name });
  return { status: 'completed', ...opened, email: link.email };
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
