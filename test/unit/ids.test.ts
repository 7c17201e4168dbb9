import { describe, expect, it } from 'vitest';
import {
  hashToken,
  isUlid,
  looksLikeApiToken,
  newApiToken,
  requestIdFor,
  ulidAfter,
  ulidFrom,
  ulidTime,
} from '#shared/ids.ts';

describe('ids', () => {
  it('derives the same request id from the same gateway request, and sorts by time', () => {
    const first = requestIdFor('gw-1', 1_700_000_000_000);
    expect(requestIdFor('gw-1', 1_700_000_000_000)).toBe(first);
    expect(requestIdFor('gw-2', 1_700_000_000_000)).not.toBe(first);
    expect(requestIdFor('gw-0', 1_700_000_000_001) > first).toBe(true);
    expect(isUlid(first.slice(4))).toBe(true);
    expect(ulidTime(first.slice(4))).toBe(1_700_000_000_000);
  });

  it('encodes ULIDs in Crockford base32 with the time first', () => {
    const id = ulidFrom(0, new Uint8Array(10));
    expect(id).toBe('00000000000000000000000000');
    expect(ulidFrom(1, new Uint8Array(10).fill(255))).toBe('0000000001ZZZZZZZZZZZZZZZZ');
  });

  it('makes tokens with a prefix, 256 random bits, and a hash that is not the token', () => {
    const a = newApiToken();
    const b = newApiToken();
    expect(a.token).toMatch(/^crd_[A-Za-z0-9_-]{43}$/);
    expect(looksLikeApiToken(a.token)).toBe(true);
    expect(a.token).not.toBe(b.token);
    expect(a.hash).toBe(hashToken(a.token));
    expect(a.hash).not.toContain(a.token.slice(4));
    expect(a.displayPrefix).toBe(a.token.slice(0, 10));
    expect(looksLikeApiToken('crd_short')).toBe(false);
  });

  it('steps a ULID forward within its millisecond, carrying across characters, and sorts after it', () => {
    const base = '01JZ000000000000000000000Z';
    expect(ulidAfter(base, 1)).toBe('01JZ0000000000000000000010');
    expect(ulidAfter(base, 2)).toBe('01JZ0000000000000000000011');
    expect(ulidAfter(base, 1) > base).toBe(true);
    expect(ulidTime(ulidAfter(base, 2))).toBe(ulidTime(base));
    expect(() => ulidAfter('01JZ00000ZZZZZZZZZZZZZZZZZ', 1)).toThrow();
  });
});
