// Identifiers: sortable ULIDs for entries and requests, and the random API tokens with their hashes.
import { createHash, randomBytes } from 'node:crypto';
import { nowMs } from './clock.ts';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID from a timestamp and 10 bytes of entropy; deterministic when the entropy is. */
export function ulidFrom(timeMs: number, entropy: Uint8Array): string {
  if (entropy.length < 10) throw new Error('ULID entropy needs 10 bytes');
  let time = '';
  let t = Math.floor(timeMs);
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let bits = 0n;
  for (let i = 0; i < 10; i++) bits = (bits << 8n) | BigInt(entropy[i]!);
  let random = '';
  for (let i = 0; i < 16; i++) {
    random = CROCKFORD[Number(bits & 31n)] + random;
    bits >>= 5n;
  }
  return time + random;
}

export function newUlid(): string {
  return ulidFrom(nowMs(), randomBytes(10));
}

/** Milliseconds encoded in a ULID's first ten characters. */
export function ulidTime(ulid: string): number {
  let t = 0;
  for (const ch of ulid.slice(0, 10)) t = t * 32 + CROCKFORD.indexOf(ch);
  return t;
}

/**
 * The ULID `steps` after `ulid` in the same millisecond: the ids of a charge's reversal (+1) and of the
 * request's next charge after a reversal (+2), so they are derived, not stored, and list next to the charge.
 * Another request lands on one of them with probability 2^-80.
 */
export function ulidAfter(ulid: string, steps: number): string {
  let random = 0n;
  for (const ch of ulid.slice(10)) random = random * 32n + BigInt(CROCKFORD.indexOf(ch));
  random += BigInt(steps);
  if (random >= 1n << 80n) throw new Error(`no ULID ${steps} after ${ulid} in its millisecond`);
  const entropy = new Uint8Array(10);
  for (let i = 9; i >= 0; i--) {
    entropy[i] = Number(random & 255n);
    random >>= 8n;
  }
  return ulidFrom(ulidTime(ulid), entropy);
}

const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
export function isUlid(value: string): boolean {
  return ULID_PATTERN.test(value);
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The request id of an API Gateway request, derived from the gateway's own id and arrival time, so a
 * redelivered event maps to the same id and therefore to the same ledger entry.
 */
export function requestIdFor(gatewayRequestId: string, timeEpochMs: number): string {
  const entropy = createHash('sha256').update(gatewayRequestId).digest().subarray(0, 10);
  return `req_${ulidFrom(timeEpochMs, entropy)}`;
}

export const TOKEN_PREFIX = 'crd_';

/** A new API token: 32 random bytes behind a recognisable prefix. Only its hash is ever stored. */
export function newApiToken(): { token: string; hash: string; displayPrefix: string } {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token), displayPrefix: token.slice(0, TOKEN_PREFIX.length + 6) };
}

/** Tokens carry 256 random bits, so a plain SHA-256 is a safe lookup key: there is nothing to brute-force. */
export function hashToken(token: string): string {
  return sha256Hex(token);
}

export function looksLikeApiToken(value: string): boolean {
  return value.startsWith(TOKEN_PREFIX) && /^[A-Za-z0-9_-]{43}$/.test(value.slice(TOKEN_PREFIX.length));
}

/** The operator's backends authenticate to the metering API with these, never with a customer's token. */
export const SERVICE_KEY_PREFIX = 'svc_';

/** A new service key: like a token, 32 random bytes behind its own prefix; only its hash is stored. */
export function newServiceKey(): { key: string; hash: string; displayPrefix: string } {
  const key = SERVICE_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, hash: hashToken(key), displayPrefix: key.slice(0, SERVICE_KEY_PREFIX.length + 6) };
}

export function looksLikeServiceKey(value: string): boolean {
  return (
    value.startsWith(SERVICE_KEY_PREFIX) && /^[A-Za-z0-9_-]{43}$/.test(value.slice(SERVICE_KEY_PREFIX.length))
  );
}
