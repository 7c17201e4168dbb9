// Copy this file into an upstream behind a metered proxy route: it checks that a request came from the billing
// gateway (x-credits-signature) before the upstream trusts x-credits-account-id and x-credits-request-id.
// Node's crypto only, no other dependency.
//
//   const checked = verifyCreditsRequest(request.headers, process.env.CREDITS_UPSTREAM_SECRET!);
//   if (!checked.ok) return reply(401, checked.reason);
//   // checked.accountId: the paying customer; checked.requestId: the gateway's id of this call
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far the signature's time may be from this machine's clock: replays of older requests are refused. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export type CreditsRequest =
  | { ok: true; accountId: string; requestId: string; feature: string | undefined }
  | { ok: false; reason: string };

type Headers = Record<string, string | string[] | undefined> | { get(name: string): string | null };

function headerOf(headers: Headers, name: string): string | undefined {
  if (typeof headers.get === 'function')
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<request id>.<account id>">` under the route's upstream secret,
 * with `t` within `toleranceSeconds` of now. Headers: Node's `IncomingMessage.headers` or a fetch `Headers`.
 */
export function verifyCreditsRequest(
  headers: Headers,
  secret: string,
  { toleranceSeconds = DEFAULT_TOLERANCE_SECONDS, nowSeconds = Math.floor(Date.now() / 1000) } = {},
): CreditsRequest {
  const signature = headerOf(headers, 'x-credits-signature');
  const accountId = headerOf(headers, 'x-credits-account-id');
  const requestId = headerOf(headers, 'x-credits-request-id');
  if (!signature || !accountId || !requestId) return { ok: false, reason: 'missing x-credits headers' };
  const parts = new Map(
    signature.split(',').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const t = parts.get('t') ?? '';
  const given = parts.get('v1') ?? '';
  if (!/^\d{1,12}$/.test(t) || !/^[0-9a-f]{64}$/.test(given))
    return { ok: false, reason: 'malformed signature' };
  if (Math.abs(nowSeconds - Number(t)) > toleranceSeconds) return { ok: false, reason: 'signature too old' };
  const expected = createHmac('sha256', secret).update(`${t}.${requestId}.${accountId}`).digest();
  if (!timingSafeEqual(expected, Buffer.from(given, 'hex'))) return { ok: false, reason: 'bad signature' };
  return { ok: true, accountId, requestId, feature: headerOf(headers, 'x-credits-feature') };
}
