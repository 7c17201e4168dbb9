// One proxied request to its upstream: what is forwarded (method, path below the route's prefix, query, body,
// content-type and accept, the signed x-credits-* headers; nothing else, so never the customer's
// authorization, a hop-by-hop header or host), and the upstream's answer read within the route's timeout.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { NotFoundError, UpstreamError, UpstreamTimeoutError } from '../errors.ts';
import type { ApiEvent } from '../http/api.ts';
import { metrics } from '../observability/powertools.ts';
import { signatureHeader } from './signature.ts';
import type { Upstream } from './upstreams.ts';

/**
 * The largest upstream answer passed on: base64 (a binary answer) grows it by a third, and a Lambda's answer
 * may be 6 MB at most.
 */
export const MAX_UPSTREAM_ANSWER_BYTES = 4 * 1024 * 1024;

/** The customer's request headers the upstream sees (x-credits-* are set here, never taken from the caller). */
const FORWARDED_HEADERS = ['content-type', 'accept'] as const;

export type UpstreamAnswer = {
  status: number;
  contentType: string | undefined;
  body: Buffer;
  /** `x-usage-quantity` as the upstream sent it. */
  usageQuantity: string | undefined;
};

export type ProxiedRequest = {
  event: ApiEvent;
  upstream: Upstream;
  prefix: string;
  feature: string;
  timeoutMs: number;
  requestId: string;
  accountId: string;
};

/** The upstream URL: the base URL, the request's path below the route's prefix, the query as sent. */
export function upstreamUrl(baseUrl: string, prefix: string, event: ApiEvent): string {
  const path = event.rawPath.startsWith(prefix) ? event.rawPath.slice(prefix.length) : event.rawPath;
  // A dot segment would be resolved by the URL parser and could climb above the base URL's path.
  if (path.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) throw new NotFoundError();
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  return `${baseUrl}${path.startsWith('/') ? path : `/${path}`}${query}`;
}

function bodyOf(event: ApiEvent): Buffer | undefined {
  if (event.body === undefined || event.body === '') return undefined;
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

async function readLimited(response: Response): Promise<Buffer> {
  if (!response.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    if (size > MAX_UPSTREAM_ANSWER_BYTES) {
      throw new UpstreamError(`The upstream answer is larger than ${MAX_UPSTREAM_ANSWER_BYTES} bytes`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/**
 * Calls the upstream with Node's own fetch (its pool keeps connections alive between invocations) and reads
 * the whole answer, all within the route's timeout: 504 past it, 502 for a broken connection.
 */
export async function forward(request: ProxiedRequest): Promise<UpstreamAnswer> {
  const { event, upstream } = request;
  const headers = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const value = event.headers?.[name];
    if (value !== undefined) headers.set(name, value);
  }
  const secret = await upstream.secret();
  headers.set('x-credits-account-id', request.accountId);
  headers.set('x-credits-request-id', request.requestId);
  headers.set('x-credits-feature', request.feature);
  headers.set(
    'x-credits-signature',
    // Real time, not the settable clock: the upstream checks the timestamp against its own clock.
    signatureHeader(secret, request.requestId, request.accountId, Math.floor(Date.now() / 1000)),
  );
  const url = upstreamUrl(upstream.baseUrl, request.prefix, event);
  const body = bodyOf(event);
  const signal = AbortSignal.timeout(request.timeoutMs);
  try {
    const response = await fetch(url, {
      method: event.requestContext.http.method,
      headers,
      ...(body ? { body } : {}),
      redirect: 'manual',
      signal,
    });
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? undefined,
      body: await readLimited(response),
      usageQuantity: response.headers.get('x-usage-quantity') ?? undefined,
    };
  } catch (error) {
    if (error instanceof UpstreamError) throw error;
    if (signal.aborted) {
      metrics.addMetric('UpstreamTimedOut', MetricUnit.Count, 1);
      throw new UpstreamTimeoutError({ cause: error });
    }
    metrics.addMetric('UpstreamFailed', MetricUnit.Count, 1);
    throw new UpstreamError('The upstream service failed', { cause: error });
  }
}
