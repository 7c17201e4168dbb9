// The shape every HTTP handler shares: API Gateway v2 events in, structured results out, and the per-request
// state that middleware adds (request id, principal, parsed body, idempotency scope).
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Caller } from '../auth/caller.ts';
import type { ServicePrincipal } from '../service-keys/authenticate.ts';
import type { Principal } from '../tokens/authenticate.ts';

export type ApiEvent = APIGatewayProxyEventV2;
export type ApiResult = APIGatewayProxyStructuredResultV2 & {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
};

export type ApiState = {
  /** `req_<ULID>`: on every response and on every ledger entry the request creates. */
  requestId: string;
  /** The request id's ULID: the id of the ledger entry (and hold) the request creates. */
  entryId: string;
  /** A bearer token's principal (metered routes charge its token). */
  principal?: Principal;
  /** Who calls an account route: the token above, or a member's session. */
  caller?: Caller;
  /** The operator's backend calling the metering API with a service key. */
  service?: ServicePrincipal;
  body?: unknown;
  /** Validated path parameters. */
  path?: unknown;
  /** Set when an Idempotency-Key applies: the permanent money guard for this key. */
  idempotencyReference?: string;
};

export type ApiContext = Context & { api: ApiState };

/** A complete HTTP Lambda handler as API Gateway invokes it. */
export type RouteHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;

/**
 * On every answer of the API (set by apiRequest(), so no route can forget them): nothing it answers is
 * cached anywhere (a token shown once, an account's balance), and no browser guesses a type other than the
 * one declared.
 */
export const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: statusCode === 204 ? '' : JSON.stringify(body),
  };
}

export function header(event: ApiEvent, name: string): string | undefined {
  return event.headers?.[name.toLowerCase()];
}
