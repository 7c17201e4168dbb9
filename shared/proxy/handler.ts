// The metered proxy routes' Lambda: authenticate the customer, honour Idempotency-Key (a replay answers the
// stored first answer without calling the upstream), pay before forwarding (fixed price charged, per unit
// max_quantity held), forward signed to the route's upstream, then charge only a 2xx answer (per unit: the
// upstream's x-usage-quantity) and give everything else back. Rules: API.md "Metered proxy routes".
import { createHash } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import { type ProxyTarget, proxyRoutes, type Route, routeKey } from '#infra/definitions/routes.ts';
import { UpstreamError } from '../errors.ts';
import type { ApiContext, ApiEvent, ApiResult, RouteHandler } from '../http/api.ts';
import { authenticated, principalOf } from '../http/middleware.ts';
import { type ApiMiddleware, type ApiRequest, apiRequest } from '../http/request.ts';
import { idempotent } from '../idempotency/middleware.ts';
import { priceOf } from '../metering/catalog.ts';
import { chargeForWork, payBeforeWork, refundFailedWork } from '../metering/metered.ts';
import { type Micros, toWire } from '../money.ts';
import { flushingMetrics, metrics } from '../observability/powertools.ts';
import { forward, type UpstreamAnswer } from './forward.ts';
import { upstreamNamed } from './upstreams.ts';

const answers = new WeakMap<object, UpstreamAnswer>();

/** The hold of a per-unit proxied feature: the catalog's max_quantity, the most one call may report. */
function maxQuantityOf(feature: string): number {
  const price = priceOf(feature);
  if (price.pricing !== 'per_unit') return 1;
  if (price.maxQuantity === undefined) {
    throw new Error(`proxied per-unit feature "${feature}" has no max_quantity in the price catalog`);
  }
  return price.maxQuantity;
}

/**
 * The quantity a 2xx answer of a per-unit feature reports: a whole number from 0 to max_quantity. Anything
 * else (missing, negative, fractional, huge) is the upstream's fault: 502, not charged, counted.
 */
export function usageQuantityOf(reported: string | undefined, maxQuantity: number): number {
  const quantity =
    reported !== undefined && /^\d{1,16}$/.test(reported.trim()) ? Number(reported) : Number.NaN;
  if (Number.isSafeInteger(quantity) && quantity <= maxQuantity) return quantity;
  metrics.addMetric('UpstreamUsageQuantityInvalid', MetricUnit.Count, 1);
  throw new UpstreamError('The upstream reported an invalid usage quantity');
}

function isJson(contentType: string | undefined): boolean {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type === 'application/json' || (type?.endsWith('+json') ?? false);
}

/**
 * A JSON object answer gains a top-level "cost" unless it has one. Written into the upstream's own text (not
 * parsed and re-serialised), so the rest of its bytes, big integers and number formats included, are kept.
 */
export function withCost(body: Buffer, contentType: string | undefined, cost: Micros): Buffer {
  if (!isJson(contentType)) return body;
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return body;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || 'cost' in parsed) return body;
  const end = text.lastIndexOf('}');
  const separator = Object.keys(parsed).length === 0 ? '' : ',';
  return Buffer.from(`${text.slice(0, end)}${separator}"cost":${toWire(cost)}${text.slice(end)}`, 'utf8');
}

/** Text answers stay text; anything else goes back base64, byte for byte. */
function passThrough(answer: UpstreamAnswer, body: Buffer, headers: Record<string, string>): ApiResult {
  const type = answer.contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  const textual = type.startsWith('text/') || isJson(answer.contentType);
  return {
    statusCode: answer.status,
    headers: { ...(answer.contentType ? { 'content-type': answer.contentType } : {}), ...headers },
    body: body.toString(textual ? 'utf8' : 'base64'),
    isBase64Encoded: !textual,
  };
}

function meteredProxy(targets: Map<string, ProxyTarget>): ApiMiddleware {
  const targetOf = (request: ApiRequest): ProxyTarget => {
    const target = targets.get(request.event.routeKey);
    if (!target) throw new Error(`${request.event.routeKey} is not a proxy route`);
    return target;
  };
  return {
    before: async (request) => {
      const { feature } = targetOf(request);
      const maxQuantity = maxQuantityOf(feature);
      await payBeforeWork(request, feature, () => maxQuantity);
    },
    after: async (request) => {
      const { feature } = targetOf(request);
      const answer = answers.get(request.context);
      if (!answer) throw new Error('the proxy handler gave no upstream answer');
      let cost = 0 as Micros;
      let remaining: Micros | undefined;
      if (answer.status >= 200 && answer.status < 300) {
        const price = priceOf(feature);
        const quantity =
          price.pricing === 'per_unit' ? usageQuantityOf(answer.usageQuantity, maxQuantityOf(feature)) : 1;
        ({ cost, remaining } = await chargeForWork(request, feature, quantity));
      } else {
        // 4xx (5xx never gets here): the customer's request was refused by the upstream; not charged.
        metrics.addMetric('UpstreamRefused', MetricUnit.Count, 1);
        await refundFailedWork(request);
        // The reversal failed: answer 500 (the charge stands, the reconciliation sees it) rather than a 4xx
        // that says nothing was charged.
        if (request.error) throw request.error;
      }
      request.response = passThrough(answer, withCost(answer.body, answer.contentType, cost), {
        'x-cost': String(toWire(cost)),
        ...(remaining === undefined ? {} : { 'x-credits-remaining': String(toWire(remaining)) }),
      });
    },
    onError: (request) => refundFailedWork(request),
  };
}

/**
 * What "the same request" means for a proxied call's Idempotency-Key: what the upstream would receive from the
 * caller, byte for byte (method, path, query, body).
 */
export function proxiedRequestFingerprint(event: ApiEvent): string {
  const { rawPath, rawQueryString, body, isBase64Encoded } = event;
  return createHash('sha256')
    .update(`${event.requestContext.http.method}\n${rawPath}\n${rawQueryString ?? ''}\n`)
    .update(body === undefined ? Buffer.alloc(0) : Buffer.from(body, isBase64Encoded ? 'base64' : 'utf8'))
    .digest('hex');
}

/**
 * A proxied call's keys are its account's on that route: the same key on another proxy route is another
 * request. A replay answers the first answer as stored; the upstream is not called again.
 */
function proxyIdempotency(): ApiMiddleware {
  return idempotent((request) => `${principalOf(request.context).accountId}#${request.event.routeKey}`, {
    fingerprint: proxiedRequestFingerprint,
  });
}

/** The handler of every proxy route in `table`: one function serves them all, dispatched on the route key. */
export function proxyHandler(table: readonly Route[]): RouteHandler {
  const targets = new Map(proxyRoutes(table).map((route) => [routeKey(route), route.proxy]));
  const chain = middy<ApiEvent, ApiResult, Error, ApiContext>()
    .use(apiRequest())
    .use(authenticated('api'))
    .use(proxyIdempotency())
    .use(meteredProxy(targets))
    .handler(async (event, context) => {
      const target = targets.get(event.routeKey)!;
      const answer = await forward({
        event,
        upstream: upstreamNamed(target.upstream),
        prefix: target.prefix,
        feature: target.feature,
        timeoutMs: target.timeoutMs,
        requestId: context.api.requestId,
        accountId: principalOf(context).accountId,
      });
      if (answer.status >= 500) {
        metrics.addMetric('UpstreamFailed', MetricUnit.Count, 1);
        throw new UpstreamError(`The upstream service answered ${answer.status}`);
      }
      answers.set(context, answer);
      // The answer is built in the metering middleware's `after`, once the charge is known.
      return { statusCode: answer.status, headers: {}, body: '' };
    });
  return flushingMetrics(chain as unknown as RouteHandler);
}
