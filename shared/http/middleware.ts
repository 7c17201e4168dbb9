// The middleware HTTP functions add after `apiRequest()` (request.ts): token auth, JSON bodies, path params.
import type * as z from 'zod/mini';
import type { Caller } from '../auth/caller.ts';
import { sessionIdOf } from '../auth/cookie.ts';
import { CSRF_HEADER, requireCsrfHeader, requireRole } from '../auth/route-roles.ts';
import { sessionMember } from '../auth/sessions.ts';
import { type DomainError, PayloadTooLargeError, ValidationError } from '../errors.ts';
import { logger } from '../observability/powertools.ts';
import { enforceRateLimit } from '../rate-limit/enforce.ts';
import { authenticateService } from '../service-keys/authenticate.ts';
import { authenticate, requireScope } from '../tokens/authenticate.ts';
import type { Scope } from '../tokens/repository.ts';
import { type ApiContext, type ApiEvent, header } from './api.ts';
import type { ApiMiddleware } from './request.ts';
import { zodProblems } from './validation.ts';

/**
 * Who calls an account route. An `Authorization` header makes it a token request (whatever cookie it carries):
 * the bearer token with the scope the route needs, then the token's rate limit. Without one, the dashboard's
 * session cookie: the session and its member re-read, the member's role checked against the route
 * (shared/auth/route-roles.ts), the CSRF header on mutating methods, then the member's rate limit. Every 429
 * is decided here, before any DynamoDB write, charge or feature work.
 */
export function authenticated(scope: Scope): ApiMiddleware {
  return {
    before: async (request) => {
      const { event } = request;
      const authorization = header(event, 'authorization');
      const sessionId = sessionIdOf(event);
      if (authorization === undefined && sessionId !== undefined) {
        request.context.api.caller = await sessionCaller(event, sessionId);
        return;
      }
      const principal = await authenticate(authorization);
      logger.appendKeys({ account_id: principal.accountId, token_id: principal.tokenId });
      enforceRateLimit(principal);
      requireScope(principal, scope);
      request.context.api.principal = principal;
      request.context.api.caller = {
        accountId: principal.accountId,
        actor: { type: 'token', id: principal.tokenId },
      };
    },
  };
}

async function sessionCaller(event: ApiEvent, sessionId: string): Promise<Caller> {
  const { session, member } = await sessionMember(sessionId);
  logger.appendKeys({ account_id: member.account_id, member_id: member.member_id });
  requireRole(event.routeKey, member.role);
  requireCsrfHeader(event.requestContext.http.method, header(event, CSRF_HEADER));
  // A member's requests share the token buckets' limits, keyed by the member id (never a token id).
  enforceRateLimit({ accountId: member.account_id, tokenId: member.member_id });
  return {
    accountId: member.account_id,
    actor: { type: 'member', id: member.member_id, email: member.email },
    role: member.role,
    sessionHash: session.hash,
  };
}

/** Service-key authentication: the metering API's routes, and only those, take `svc_` keys. */
export function serviceAuthenticated(): ApiMiddleware {
  return {
    before: async (request) => {
      const service = await authenticateService(header(request.event, 'authorization'));
      request.context.api.service = service;
      logger.appendKeys({ service_key_id: service.keyId });
    },
  };
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** Parses and validates a JSON body; the handler reads the typed result from `context.api.body`. */
export function jsonBody<T>(schema: z.ZodMiniType<T>, maxBytes = DEFAULT_MAX_BODY_BYTES): ApiMiddleware {
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
export function pathParameters<T>(schema: z.ZodMiniType<T>): ApiMiddleware {
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

/** The bearer token's principal: metered routes, which only tokens may call. */
export function principalOf(context: ApiContext) {
  const principal = context.api.principal;
  if (!principal) throw new Error('authenticated() middleware missing before this handler');
  return principal;
}

/** Who calls an account route (a token or a member's session): its account, and the actor of its changes. */
export function callerOf(context: ApiContext): Caller {
  const caller = context.api.caller;
  if (!caller) throw new Error('authenticated() middleware missing before this handler');
  return caller;
}

export type { DomainError };
