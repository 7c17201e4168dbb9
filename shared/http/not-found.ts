// The answer for a route key no handler serves: the contract's 404 body, with a request id like any other.
import middy from '@middy/core';
import { NotFoundError } from '../errors.ts';
import { flushingMetrics } from '../observability/powertools.ts';
import type { ApiContext, ApiEvent, ApiResult, RouteHandler } from './api.ts';
import { apiRequest } from './request.ts';

export const unknownRoute: RouteHandler = flushingMetrics(
  middy<ApiEvent, ApiResult, Error, ApiContext>()
    .use(apiRequest())
    .handler(async () => {
      throw new NotFoundError();
    }) as unknown as RouteHandler,
);
