// The helper operators copy into their upstream (examples/verify-signature.ts) accepts exactly what the
// gateway signs (shared/proxy/signature.ts) and refuses anything else: another secret, account or request id,
// a stale or future time, a malformed header, missing headers. Node's IncomingMessage headers and fetch's
// Headers both work.
import { describe, expect, it } from 'vitest';
import { signatureHeader } from '#shared/proxy/signature.ts';
import { verifyCreditsRequest } from '../../examples/verify-signature.ts';

const SECRET = 'a'.repeat(40);
const NOW = 1_800_000_000;
const signed = (overrides: Record<string, string> = {}, at = NOW) => ({
  'x-credits-account-id': 'acct_1',
  'x-credits-request-id': 'req_1',
  'x-credits-feature': 'sample_translate',
  'x-credits-signature': signatureHeader(SECRET, 'req_1', 'acct_1', at),
  ...overrides,
});

describe('verifyCreditsRequest', () => {
  it('accepts the gateway’s signature and names the account, request and feature', () => {
    expect(verifyCreditsRequest(signed(), SECRET, { nowSeconds: NOW })).toEqual({
      ok: true,
      accountId: 'acct_1',
      requestId: 'req_1',
      feature: 'sample_translate',
    });
    expect(verifyCreditsRequest(new Headers(signed()), SECRET, { nowSeconds: NOW }).ok).toBe(true);
  });

  it('signs "<t>.<request id>.<account id>" with HMAC-SHA256, as the README says', () => {
    expect(signatureHeader('secret', 'req_A', 'acct_B', 1_700_000_000)).toBe(
      // printf '1700000000.req_A.acct_B' | openssl dgst -sha256 -hmac secret
      't=1700000000,v1=a6055078e2519262b5789251c53ea5c4ff81b3df54ba2acaf9605e4f2083a978',
    );
  });

  it.each([
    ['another secret', signed(), `${SECRET}b`, 'bad signature'],
    ['another account', signed({ 'x-credits-account-id': 'acct_2' }), SECRET, 'bad signature'],
    ['another request', signed({ 'x-credits-request-id': 'req_2' }), SECRET, 'bad signature'],
    ['a time 6 minutes old', signed({}, NOW - 360), SECRET, 'signature too old'],
    ['a time 6 minutes ahead', signed({}, NOW + 360), SECRET, 'signature too old'],
    ['a malformed header', signed({ 'x-credits-signature': 't=1,v1=zz' }), SECRET, 'malformed signature'],
    [
      'no signature',
      { 'x-credits-account-id': 'acct_1', 'x-credits-request-id': 'req_1' },
      SECRET,
      'missing x-credits headers',
    ],
  ])('refuses %s', (_what, headers, secret, reason) => {
    expect(verifyCreditsRequest(headers, secret, { nowSeconds: NOW })).toEqual({ ok: false, reason });
  });
});
