// Bearer-token authentication with a per-instance cache: a warm call costs no DynamoDB request; each cached
// token is re-read (and its last use recorded) at most once per TOKEN_CACHE_TTL_MS, so a revocation made
// elsewhere reaches this instance within that time, and one made here applies at once. Expiry needs no
// re-read: it is checked against the clock on every request, cached or not.

import { BoundedMap } from '../bounded-map.ts';
import { nowIso, nowMs } from '../clock.ts';
import { config, type RateLimit } from '../config.ts';
import { ForbiddenError, TokenExpiredError, UnauthorizedError } from '../errors.ts';
import { hashToken, looksLikeApiToken } from '../ids.ts';
import { findTokenByHash, type Scope, type TokenRecord, touchToken } from './repository.ts';
import type { LimitReset } from './spend-limit.ts';

export type Principal = {
  accountId: string;
  tokenId: string;
  scopes: Scope[];
  /** When the token stops being valid (ms since the epoch), if it was created with `expires_at`. */
  expiresAtMs?: number;
  /** The token's own rate limit, if the account gave it one (else the operator's default applies). */
  rateLimit?: RateLimit;
  /** The token has its own spend limit, reset per this period: its charges write its limit item. */
  limitReset?: LimitReset;
};

type CacheEntry = { principal: Principal | undefined; checkedAt: number };

const cache = new BoundedMap<string, CacheEntry>(10_000);

function remember(hash: string, entry: CacheEntry): void {
  cache.set(hash, entry);
}

function bearerToken(authorization: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match || !looksLikeApiToken(match[1]!)) throw new UnauthorizedError();
  return match[1]!;
}

/** The principal with what its record says now: expiry, rate limit and spend limit. */
function withRecord(principal: Principal, record: TokenRecord): Principal {
  const { expiresAtMs: _expiry, rateLimit: _rate, limitReset: _limit, ...rest } = principal;
  return {
    ...rest,
    ...(record.valid_until ? { expiresAtMs: Date.parse(record.valid_until) } : {}),
    ...(record.rate_limit ? { rateLimit: record.rate_limit } : {}),
    ...(record.spend_limit ? { limitReset: record.spend_limit.reset } : {}),
  };
}

async function loadPrincipal(hash: string, known: Principal | undefined): Promise<Principal | undefined> {
  let principal = known;
  if (!principal) {
    const lookup = await findTokenByHash(hash);
    if (!lookup || lookup.revoked_at) return undefined;
    principal = { accountId: lookup.account_id, tokenId: lookup.token_id, scopes: lookup.scopes };
  }
  const record = await touchToken(principal.accountId, principal.tokenId, nowIso());
  // Expiry and limits are read from the account's own record (the lookup item does not carry them), at every
  // re-read.
  return record && !record.revoked_at ? withRecord(principal, record) : undefined;
}

export async function authenticate(authorization: string | undefined): Promise<Principal> {
  const hash = hashToken(bearerToken(authorization));
  const cached = cache.get(hash);
  const fresh = cached && nowMs() - cached.checkedAt < config.tokenCacheTtlMs;
  const principal = fresh ? cached.principal : await loadPrincipal(hash, cached?.principal);
  if (!fresh) remember(hash, { principal, checkedAt: nowMs() });
  if (!principal) throw new UnauthorizedError();
  if (principal.expiresAtMs !== undefined && nowMs() >= principal.expiresAtMs) throw new TokenExpiredError();
  return principal;
}

/** `billing` can do everything `api` can (the contract), so it satisfies both. */
export function requireScope(principal: Principal, scope: Scope): void {
  if (!principal.scopes.includes(scope) && !principal.scopes.includes('billing')) throw new ForbiddenError();
}

/** Called by the instance that revokes a token, so that it refuses the token immediately. */
export function forgetRevokedToken(tokenId: string): void {
  for (const [hash, entry] of cache) {
    if (entry.principal?.tokenId === tokenId) cache.set(hash, { principal: undefined, checkedAt: nowMs() });
  }
}

/** Called by the instance that changes a token (expiry, limit), so that its next request reads the change. */
export function forgetToken(tokenId: string): void {
  for (const [hash, entry] of cache) {
    if (entry.principal?.tokenId === tokenId) cache.set(hash, { principal: entry.principal, checkedAt: 0 });
  }
}

/** Tests only: start from a cold cache. */
export function clearTokenCache(): void {
  cache.clear();
}
