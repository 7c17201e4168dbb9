// The proof a proxied request came from this gateway: `x-credits-signature: t=<unix seconds>,v1=<hex
// HMAC-SHA256 of "<t>.<request id>.<account id>">` under the route's upstream secret. The upstream checks it
// with examples/verify-signature.ts (or the README's algorithm) before trusting the x-credits-* headers.
import { createHmac } from 'node:crypto';

export function signatureHeader(
  secret: string,
  requestId: string,
  accountId: string,
  unixSeconds: number,
): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${requestId}.${accountId}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}
