// The outermost middleware of every HTTP function: request ids, error mapping, the x-request-id header and
// the security headers, stamped on every answer (success, error, 404, idempotent replay). Metrics are not
// flushed here but around the whole chain (flushingMetrics), which also covers an early response and an
// onError middleware that throws.
// Kept apart from token auth and body parsing so a function that needs neither (the catch-all 404) bundles
// no DynamoDB client and no zod.
import type { MiddlewareObj, Request } from '@middy/core';
import { errorResponse } from '../errors.ts';
import { requestIdFor } from '../ids.ts';
import { logger } from '../observability/powertools.ts';
import { type ApiContext, type ApiEvent, type ApiResult, json, SECURITY_HEADERS } from './api.ts';

export type ApiRequest = Request<ApiEvent, ApiResult, Error, ApiContext>;
export type ApiMiddleware = MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext>;

/** Outermost: assigns the request id, maps any error to the contract's body, stamps x-request-id and SECURITY_HEADERS. */
export function apiRequest(): ApiMiddleware {
  const stamp = (request: ApiRequest) => {
    if (request.response) {
      request.response.headers = {
        ...request.response.headers,
        ...SECURITY_HEADERS,
        'x-request-id': request.context.api.requestId,
      };
    }
  };
  return {
    before: (request) => {
      const rc = request.event.requestContext;
      const requestId = requestIdFor(rc.requestId, rc.timeEpoch);
      request.context.api = { requestId, entryId: requestId.slice(4) };
      // A warm instance must not carry the previous request's account or token into this one's logs.
      logger.resetKeys();
      logger.appendKeys({ request_id: requestId, route: request.event.routeKey });
    },
    after: (request) => {
      stamp(request);
    },
    onError: (request) => {
      const { status, body, headers } = errorResponse(request.error);
      if (status >= 500) logger.error('request failed', { error: request.error });
      request.response = json(status, body, headers);
      stamp(request);
      return request.response;
    },
  };
}
