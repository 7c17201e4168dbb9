// The middleware every HTTP function composes: request ids and error mapping, token auth, JSON bodies.
import type { MiddlewareObj, Request } from '@middy/core';
import type { ZodType } from 'zod';
import { type DomainError, errorResponse, PayloadTooLargeError, ValidationError } from '../errors.ts';
import { requestIdFor } from '../ids.ts';
import { logger } from '../observability/powertools.ts';
import { authenticate, requireScope } from '../tokens/authenticate.ts';
import type { Scope } from '../tokens/repository.ts';
import { type ApiContext, type ApiEvent, type ApiResult, header, json } from './api.ts';
import { zodProblems } from './validation.ts';

export type ApiRequest = Request<ApiEvent, ApiResult, Error, ApiContext>;
export type ApiMiddleware = MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext>;

/** Outermost: assigns the request id, maps any error to the contract's body, stamps x-request-id. */
export function apiRequest(): ApiMiddleware {
  const stamp = (request: ApiRequest) => {
    if (request.response) {
      request.response.headers = {
        ...request.response.headers,
        'x-request-id': request.context.api.requestId,
      };
    }
  };
  return {
    before: (request) => {
      const rc = request.event.requestContext;
      const requestId = requestIdFor(rc.requestId, rc.timeEpoch);
      request.context.api = { requestId, entryId: requestId.slice(4) };
      logger.appendKeys({ request_id: requestId, route: request.event.routeKey });
    },
    after: stamp,
    onError: (request) => {
      const { status, body } = errorResponse(request.error);
      if (status >= 500) logger.error('request failed', { error: request.error });
      request.response = json(status, body);
      stamp(request);
      logger.resetKeys();
      return request.response;
    },
  };
}

/** Bearer-token authentication with the scope the route needs. */
export function authenticated(scope: Scope): ApiMiddleware {
  return {
    before: async (request) => {
      const principal = await authenticate(header(request.event, 'authorization'));
      requireScope(principal, scope);
      request.context.api.principal = principal;
      logger.appendKeys({ account_id: principal.accountId, token_id: principal.tokenId });
    },
  };
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** Parses and validates a JSON body; the handler reads the typed result from `context.api.body`. */
export function jsonBody<T>(schema: ZodType<T>, maxBytes = DEFAULT_MAX_BODY_BYTES): ApiMiddleware {
  return {
    before: (request) => {
      const { body, isBase64Encoded } = request.event;
      const text =
        body === undefined ? '' : isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
      if (Buffer.byteLength(text, 'utf8') > maxBytes) throw new PayloadTooLargeError(maxBytes);
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch (error) {
        throw new ValidationError([{ field: 'body', problem: 'is not valid JSON' }], { cause: error });
      }
      if (parsed === undefined) throw new ValidationError([{ field: 'body', problem: 'is required' }]);
      const result = schema.safeParse(parsed);
      if (!result.success) throw new ValidationError(zodProblems(result.error));
      request.context.api.body = result.data;
    },
  };
}

/** Validates path parameters; runs before the Idempotency-Key is claimed, like the body. */
export function pathParameters<T>(schema: ZodType<T>): ApiMiddleware {
  return {
    before: (request) => {
      const result = schema.safeParse(request.event.pathParameters ?? {});
      if (!result.success) throw new ValidationError(zodProblems(result.error));
      request.context.api.path = result.data;
    },
  };
}

export function pathOf<T>(context: ApiContext): T {
  return context.api.path as T;
}

export function bodyOf<T>(context: ApiContext): T {
  return context.api.body as T;
}

export function principalOf(context: ApiContext) {
  const principal = context.api.principal;
  if (!principal) throw new Error('authenticated() middleware missing before this handler');
  return principal;
}

export type { DomainError };
