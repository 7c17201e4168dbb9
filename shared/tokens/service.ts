// Token management for `/v1/tokens`: create (secret shown once), list (never the secret), revoke.
// At most MAX_ACTIVE_TOKENS active tokens per account, enforced by the counter the repository keeps in the
// same transaction as each token (racing creations cannot pass it; see repository.ts).

import * as z from 'zod/mini';
import { newTokenId } from '../accounts/service.ts';
import { nowIso } from '../clock.ts';
import type { RateLimit } from '../config.ts';
import type { TransactItem } from '../dynamo/transact.ts';
import { NotFoundError, TooManyTokensError } from '../errors.ts';
import { isoTime } from '../http/validation.ts';
import { forgetRevokedToken } from './authenticate.ts';
import {
  getAccountToken,
  insertToken,
  listAccountTokens,
  prepareToken,
  revokeToken,
  type Scope,
  startCounting,
  type TokenRecord,
} from './repository.ts';

export const MAX_ACTIVE_TOKENS = 100;

export type TokenRequest = { name: string; scopes: Scope[]; expiresAt?: string; rateLimit?: RateLimit };

const scopes = z.array(z.enum(['api', 'billing']));

/** A token's own rate limit, as answered; null: the operator's defaults (RATE_LIMIT_RPS, RATE_LIMIT_BURST). */
const rateLimitView = z.nullable(
  z
    .object({
      rps: z.number().check(z.describe('Requests per second on average')),
      burst: z.int().check(z.describe('Requests at once at most')),
    })
    .check(
      z.describe(
        "The token's own rate limit; null: the operator's defaults. Beyond it: 429 rate_limited with retry-after",
      ),
    ),
);

/** A token as listed: never the secret. */
export const tokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes,
  prefix: z.string().check(z.describe('The first characters of the secret, to recognise it')),
  created_at: isoTime,
  last_used_at: z.nullable(isoTime),
  /** From this instant the token is refused with 401 token_expired; null: it never expires. */
  expires_at: z.nullable(isoTime),
  rate_limit: rateLimitView,
});

/** A new token: the secret is shown here once (null when an Idempotency-Key replays the answer). */
export const createdTokenSchema = z.object({
  id: z.string(),
  token: z.nullable(z.string()),
  name: z.string(),
  scopes,
  created_at: isoTime,
  expires_at: z.nullable(isoTime),
  rate_limit: rateLimitView,
});

function publicView(record: TokenRecord): z.output<typeof tokenSchema> {
  return {
    id: record.token_id,
    name: record.name,
    scopes: record.scopes,
    prefix: record.prefix,
    created_at: record.created_at,
    last_used_at: record.last_used_at ?? null,
    expires_at: record.valid_until ?? null,
    rate_limit: record.rate_limit ?? null,
  };
}

export type IssuedToken = z.output<typeof createdTokenSchema> & { token: string };

/**
 * Creates a token if the account is below its cap (else TooManyTokensError); `guard` is written in the same
 * transaction, and `undefined` is answered when its condition failed (nothing was created).
 */
export async function issueToken(
  accountId: string,
  request: TokenRequest,
  guard?: TransactItem,
): Promise<IssuedToken | undefined> {
  // Three passes at most: start the counter of an account from before it, then create.
  for (let attempt = 0; attempt < 3; attempt++) {
    const prepared = prepareToken({
      accountId,
      tokenId: newTokenId(),
      name: request.name,
      scopes: [...new Set(request.scopes)],
      at: nowIso(),
      ...(request.expiresAt ? { expiresAt: request.expiresAt } : {}),
      ...(request.rateLimit ? { rateLimit: request.rateLimit } : {}),
    });
    const outcome = await insertToken(prepared, MAX_ACTIVE_TOKENS, guard);
    if (outcome === 'guard_taken') return undefined;
    if (outcome === 'cap_reached') throw new TooManyTokensError(MAX_ACTIVE_TOKENS);
    if (outcome === 'uncounted') {
      if (!(await startCounting(accountId, MAX_ACTIVE_TOKENS)))
        throw new TooManyTokensError(MAX_ACTIVE_TOKENS);
      continue;
    }
    const view = publicView(prepared.record);
    return {
      id: view.id,
      token: prepared.token,
      name: view.name,
      scopes: view.scopes,
      created_at: view.created_at,
      expires_at: view.expires_at,
      rate_limit: view.rate_limit,
    };
  }
  throw new Error('token creation kept finding no counter');
}

/** `POST /v1/tokens`. */
export async function createToken(accountId: string, request: TokenRequest): Promise<IssuedToken> {
  const issued = await issueToken(accountId, request);
  if (!issued) throw new Error('a token without a guard cannot lose one');
  return issued;
}

export async function listTokens(accountId: string) {
  const records = await listAccountTokens(accountId);
  return records.filter((t) => !t.revoked_at).map(publicView);
}

/** Revokes a token of this account; another account's token id is "not found", never "forbidden". */
export async function revokeAccountToken(accountId: string, tokenId: string): Promise<void> {
  const record = await getAccountToken(accountId, tokenId);
  if (!record || record.revoked_at) throw new NotFoundError('Token not found');
  // A racing revocation of the same token won: this one freed nothing and answers as if it came second.
  if (!(await revokeToken(record, nowIso()))) throw new NotFoundError('Token not found');
  forgetRevokedToken(tokenId);
}
