// Builders for the HTTP functions that are not paid features: one middy chain per route, and dispatch on
// API Gateway's route key for functions that serve several routes.
import middy from '@middy/core';
import type * as z from 'zod/mini';
import { ForbiddenError } from '../errors.ts';
import { idempotent, serviceScope } from '../idempotency/middleware.ts';
import { sha256Hex } from '../ids.ts';
import { flushingMetrics } from '../observability/powertools.ts';
import type { Scope } from '../tokens/repository.ts';
import { type ApiContext, type ApiEvent, type ApiResult, header, type RouteHandler } from './api.ts';
import { authenticated, callerOf, jsonBody, pathParameters, serviceAuthenticated } from './middleware.ts';
import { unknownRoute } from './not-found.ts';
import { type ApiMiddleware, type ApiRequest, apiRequest } from './request.ts';

export type RouteOptions = {
  /**
   * `admin`: an operator route, authorised by IAM in the cloud (x-admin-key locally). `service`: the
   * metering API, called by the operator's backends with a service key. `none`: the caller proves itself
   * otherwise (a Stripe signature) or the route reveals nothing (a payment return page).
   */
  auth: Scope | 'admin' | 'service' | 'none';
  /** Path parameters, validated before the Idempotency-Key is claimed. */
  path?: z.ZodMiniType<unknown>;
  body?: z.ZodMiniType<unknown>;
  /**
   * Honour `Idempotency-Key` (every POST that moves money or creates a billable object). `redact` names
   * response fields that are secrets shown once: they are stored, and so replayed, as null. `required`:
   * a request without the header is a 400.
   */
  idempotent?: boolean | { redact?: string[]; required?: boolean };
};

/** Defence in depth: an /admin function refuses any request API Gateway did not authorise with IAM. */
function operatorOnly(): ApiMiddleware {
  return {
    before: (request) => {
      const authorizer = (request.event.requestContext as { authorizer?: { iam?: unknown } }).authorizer;
      if (!authorizer?.iam) throw new ForbiddenError('Operator routes need IAM authorisation');
    },
  };
}

export function apiRoute(
  options: RouteOptions,
  run: (event: ApiEvent, context: ApiContext) => Promise<ApiResult>,
): RouteHandler {
  const chain = middy<ApiEvent, ApiResult, Error, ApiContext>().use(apiRequest());
  if (options.auth === 'admin') chain.use(operatorOnly());
  else if (options.auth === 'service') chain.use(serviceAuthenticated());
  else if (options.auth !== 'none') chain.use(authenticated(options.auth));
  if (options.path) chain.use(pathParameters(options.path));
  if (options.body) chain.use(jsonBody(options.body));
  if (options.idempotent) {
    const { redact = [], required = false } = options.idempotent === true ? {} : options.idempotent;
    // A customer's keys are its account's; the operator's are its own.
    const scopeOf = (request: ApiRequest) => {
      if (options.auth === 'admin') return 'admin';
      if (options.auth === 'service')
        return serviceScope(sha256Hex(header(request.event, 'idempotency-key') ?? ''));
      return callerOf(request.context).accountId;
    };
    chain.use(idempotent(scopeOf, { redact, required }));
  }
  return flushingMetrics(chain.handler(run) as unknown as RouteHandler);
}

/** One Lambda serving several routes of the route table, dispatched on `routeKey`. */
export function byRoute(handlers: Record<string, RouteHandler>): RouteHandler {
  return (event, context) => (handlers[event.routeKey] ?? unknownRoute)(event, context);
}
