// Domain errors, and the single place that turns any error into the contract's HTTP error body.

export type FieldProblem = { field: string; problem: string };

export abstract class DomainError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  /** Extra fields merged into the error body. */
  details(): Record<string, unknown> {
    return {};
  }
  /** Headers the answer carries besides the contract's own. */
  headers(): Record<string, string> {
    return {};
  }
}

export class ValidationError extends DomainError {
  override readonly name = 'ValidationError';
  readonly status = 400;
  readonly code = 'invalid_request';
  readonly problems: FieldProblem[];
  constructor(problems: FieldProblem[], options?: ErrorOptions) {
    super(
      problems.length
        ? `Invalid request: ${problems.map((p) => `${p.field} ${p.problem}`).join('; ')}`
        : 'Invalid request',
      options,
    );
    this.problems = problems;
  }
  override details() {
    return { details: this.problems };
  }
}

export class PayloadTooLargeError extends DomainError {
  override readonly name = 'PayloadTooLargeError';
  readonly status = 413;
  readonly code = 'payload_too_large';
  constructor(limitBytes: number) {
    super(`Request body is larger than ${limitBytes} bytes`);
  }
}

export class UnauthorizedError extends DomainError {
  override readonly name = 'UnauthorizedError';
  readonly status = 401;
  readonly code = 'unauthorized';
  constructor(message = 'Missing, invalid or revoked token') {
    super(message);
  }
}

/** A token past its `expires_at`: refused like a revoked one, but saying why (the contract's 401). */
export class TokenExpiredError extends DomainError {
  override readonly name = 'TokenExpiredError';
  readonly status = 401;
  readonly code = 'token_expired';
  constructor() {
    super('This token has expired');
  }
}

/** A metering API call named its customer by a token that is unknown, malformed, revoked or expired. */
export class CustomerUnauthorizedError extends DomainError {
  override readonly name = 'CustomerUnauthorizedError';
  readonly status = 401;
  readonly code = 'customer_unauthorized';
  constructor(options?: ErrorOptions) {
    super('The customer token is missing, invalid, revoked or expired', options);
  }
}

export class ForbiddenError extends DomainError {
  override readonly name = 'ForbiddenError';
  readonly status = 403;
  readonly code = 'forbidden';
  constructor(message = 'This token does not have the scope this request needs') {
    super(message);
  }
}

export class NotFoundError extends DomainError {
  override readonly name = 'NotFoundError';
  readonly status = 404;
  readonly code = 'not_found';
  constructor(message = 'Not found') {
    super(message);
  }
}

export class MethodNotAllowedError extends DomainError {
  override readonly name = 'MethodNotAllowedError';
  readonly status = 405;
  readonly code = 'method_not_allowed';
  constructor() {
    super('Method not allowed on this route');
  }
}

export class ConflictError extends DomainError {
  override readonly name = 'ConflictError';
  readonly status = 409;
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The account already has its cap of active tokens: one must be revoked before another is created. */
export class TooManyTokensError extends ConflictError {
  constructor(cap: number) {
    super('too_many_tokens', `An account can have at most ${cap} active tokens; revoke one first`);
  }
}

export class IdempotencyKeyReusedError extends ConflictError {
  constructor() {
    super('idempotency_key_reused', 'This Idempotency-Key was already used with a different request');
  }
}

export class IdempotencyInProgressError extends ConflictError {
  constructor() {
    super(
      'idempotency_request_in_progress',
      'A request with this Idempotency-Key is still being processed; retry shortly',
    );
  }
}

export class InsufficientCreditsError extends DomainError {
  override readonly name = 'InsufficientCreditsError';
  readonly status = 402;
  readonly code = 'insufficient_credits';
  constructor() {
    super('Insufficient credits');
  }
}

/** A postpaid account's monthly spend limit would be passed: blocked until the next period. */
export class TokenLimitReachedError extends DomainError {
  override readonly name = 'TokenLimitReachedError';
  readonly status = 402;
  readonly code = 'token_limit_reached';
  constructor() {
    super('Token spend limit reached');
  }
}

export class SpendLimitReachedError extends DomainError {
  override readonly name = 'SpendLimitReachedError';
  readonly status = 402;
  readonly code = 'spend_limit_reached';
  constructor() {
    super('Monthly spend limit reached');
  }
}

/** A postpaid account with an invoice unpaid past its due date and grace period (when the operator blocks them). */
export class InvoiceOverdueError extends DomainError {
  override readonly name = 'InvoiceOverdueError';
  readonly status = 402;
  readonly code = 'invoice_overdue';
  constructor() {
    super('Payment of an overdue invoice is required');
  }
}

/**
 * A token (or its account's tokens together) past its rate limit: refused before any charge or feature work,
 * and never charged. `retry-after` says in whole seconds (at least 1) when its bucket has room again.
 */
export class RateLimitedError extends DomainError {
  override readonly name = 'RateLimitedError';
  readonly status = 429;
  readonly code = 'rate_limited';
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('Too many requests for this token; retry after the time in retry-after');
    this.retryAfterSeconds = retryAfterSeconds;
  }
  override headers() {
    return { 'retry-after': String(this.retryAfterSeconds) };
  }
}

/** A marketplace buyer whose subscription is not active. */
export class SubscriptionInactiveError extends DomainError {
  override readonly name = 'SubscriptionInactiveError';
  readonly status = 403;
  readonly code = 'subscription_inactive';
  constructor() {
    super('The AWS Marketplace subscription of this account is not active');
  }
}

/** A proxied route's upstream answered 5xx, broke the connection, or reported a usage it cannot have had. */
export class UpstreamError extends DomainError {
  override readonly name = 'UpstreamError';
  readonly status = 502;
  readonly code = 'upstream_error';
  constructor(message = 'The upstream service failed', options?: ErrorOptions) {
    super(message, options);
  }
}

/** A proxied route's upstream gave no answer within the route's timeout. */
export class UpstreamTimeoutError extends DomainError {
  override readonly name = 'UpstreamTimeoutError';
  readonly status = 504;
  readonly code = 'upstream_timeout';
  constructor(options?: ErrorOptions) {
    super('The upstream service did not answer in time', options);
  }
}

/** A prepaid correction or debit that would take the balance below zero. */
export class BalanceWouldGoNegativeError extends ConflictError {
  constructor() {
    super('insufficient_balance', 'This correction would take the available balance below zero');
  }
}

/**
 * DynamoDB refused a charge for a reason that is not a failed balance or limit condition (a
 * `ValidationError`, e.g. an item over 400 KB): a 500 with its reasons in the log, never a 402.
 */
export class ChargeRejectedError extends Error {
  override readonly name = 'ChargeRejectedError';
  readonly reasons: string[];
  constructor(entryId: string, reasons: string[]) {
    super(
      `charge ${entryId} refused by DynamoDB for a reason that is not money: ${reasons.join('; ') || 'none given'}`,
    );
    this.reasons = reasons;
  }
}

/**
 * DynamoDB refused a write for throughput: a hot account's partition is at its write limit (throttled past the
 * SDK's and the transaction's own retries), or its transactions kept conflicting. Nothing was written by the
 * refused write; the caller retries after `retry-after` with the same Idempotency-Key. A 5xx so that the key is
 * released, not its answer stored (a 429 would be replayed to the retry); never a 402.
 */
export class TemporarilyUnavailableError extends DomainError {
  override readonly name = 'TemporarilyUnavailableError';
  readonly status = 503;
  readonly code = 'temporarily_unavailable';
  readonly retryAfterSeconds = 1;
  constructor(options?: ErrorOptions) {
    super('This account is receiving more requests than it can record right now; retry shortly', options);
  }
  override headers() {
    return { 'retry-after': String(this.retryAfterSeconds) };
  }
}

/** DynamoDB's own answers for throughput, left by the SDK after its retries (see TemporarilyUnavailableError). */
const THROUGHPUT_REFUSALS = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
]);

export type ErrorBody = { error: string; code: string; [key: string]: unknown };

/** The contract's error body (and headers) for any error. Errors that are not domain errors expose nothing. */
export function errorResponse(error: unknown): {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
} {
  if (error instanceof Error && THROUGHPUT_REFUSALS.has(error.name)) {
    return errorResponse(new TemporarilyUnavailableError({ cause: error }));
  }
  if (error instanceof DomainError) {
    return {
      status: error.status,
      body: { error: error.message, code: error.code, ...error.details() },
      headers: error.headers(),
    };
  }
  return { status: 500, body: { error: 'Internal error', code: 'internal_error' }, headers: {} };
}
