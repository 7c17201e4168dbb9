// Service-key authentication for the metering API, with the same per-instance cache rules as customer tokens
// (shared/tokens/authenticate.ts): a warm call costs no read; a cached key is re-read at most once per
// TOKEN_CACHE_TTL_MS, so a revocation elsewhere reaches this instance within that time, and at once here.
import { BoundedMap } from '../bounded-map.ts';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { UnauthorizedError } from '../errors.ts';
import { hashToken, looksLikeServiceKey } from '../ids.ts';
import { findServiceKeyByHash, touchServiceKey } from './repository.ts';

export type ServicePrincipal = { keyId: string };

type CacheEntry = { principal: ServicePrincipal | undefined; checkedAt: number };

const cache = new BoundedMap<string, CacheEntry>(1_000);

async function loadPrincipal(
  hash: string,
  known: ServicePrincipal | undefined,
): Promise<ServicePrincipal | undefined> {
  let keyId = known?.keyId;
  if (!keyId) {
    const lookup = await findServiceKeyByHash(hash);
    if (!lookup || lookup.revoked_at) return undefined;
    keyId = lookup.key_id;
  }
  return (await touchServiceKey(keyId, nowIso())) ? { keyId } : undefined;
}

/** A customer's token here is as unknown as a forged key: 401 `unauthorized`, whatever it could do elsewhere. */
export async function authenticateService(authorization: string | undefined): Promise<ServicePrincipal> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match || !looksLikeServiceKey(match[1]!))
    throw new UnauthorizedError('Missing, invalid or revoked service key');
  const hash = hashToken(match[1]!);
  const cached = cache.get(hash);
  const fresh = cached && nowMs() - cached.checkedAt < config.tokenCacheTtlMs;
  const principal = fresh ? cached.principal : await loadPrincipal(hash, cached?.principal);
  if (!fresh) cache.set(hash, { principal, checkedAt: nowMs() });
  if (!principal) throw new UnauthorizedError('Missing, invalid or revoked service key');
  return principal;
}

/** Called by the instance that revokes a key, so that it refuses the key immediately. */
export function forgetRevokedServiceKey(keyId: string): void {
  for (const [hash, entry] of cache) {
    if (entry.principal?.keyId === keyId) cache.set(hash, { principal: undefined, checkedAt: nowMs() });
  }
}
