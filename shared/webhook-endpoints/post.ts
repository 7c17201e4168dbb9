// One webhook attempt on the wire: a POST to the address the policy checked (the connection's DNS lookup is
// answered with it, so a second DNS answer cannot redirect the request), cut after 10 seconds, redirects not
// followed (node's http client never follows them; a 3xx is a failed attempt like any non-2xx).
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CheckedTarget } from './address-policy.ts';

/** The contract: no answer within 10 s is a failed attempt. Not configurable; the test waits it out. */
export const DELIVERY_TIMEOUT_MS = 10_000;

export type AttemptResult = { statusCode?: number; error?: string };

export function postToTarget(
  target: CheckedTarget,
  headers: Record<string, string>,
  body: string,
): Promise<AttemptResult> {
  const signal = AbortSignal.timeout(DELIVERY_TIMEOUT_MS);
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const failed = (error: unknown): AttemptResult =>
    signal.aborted
      ? { error: `timeout: no complete answer within ${DELIVERY_TIMEOUT_MS / 1000} s` }
      : { error: `connection failed: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
  return new Promise((resolve) => {
    const client = target.url.protocol === 'https:' ? https : http;
    const request = client.request(
      target.url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        signal,
        agent: false,
        lookup: pinned,
      },
      (response) => {
        // The answer's body is not kept: read and dropped, so the connection can end.
        response.on('data', () => {});
        response.on('end', () => resolve({ statusCode: response.statusCode }));
        response.on('error', (error) => resolve(failed(error)));
      },
    );
    request.on('error', (error) => resolve(failed(error)));
    request.end(body);
  });
}
