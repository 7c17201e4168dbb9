// The Idempotency-Key middleware for every POST that moves money or creates a billable object.
// Same key + same request → the first final response is replayed; same key + different request → 409.
// Attempts of one key share one request id, and the key is the permanent guard of the money it moves.
import { randomUUID } from 'node:crypto';
import { idempotencyWait } from '#infra/definitions/timeouts.ts';
import { nowMs } from '../clock.ts';
import { sleep } from '../dynamo/transact.ts';
import {
  errorResponse,
  IdempotencyInProgressError,
  IdempotencyKeyReusedError,
  RateLimitedError,
  ValidationError,
} from '../errors.ts';
import { type ApiEvent, type ApiResult, header, SECURITY_HEADERS } from '../http/api.ts';
import type { ApiMiddleware, ApiRequest } from '../http/request.ts';
import { sha256Hex } from '../ids.ts';
import { logger } from '../observability/powertools.ts';
import {
  claimKey,
  completeKey,
  forgetKey,
  type RecordKey,
  readRecord,
  releaseKey,
  type StoredResponse,
} from './store.ts';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

type Claim = { key: RecordKey; owner: string };
const claims = new WeakMap<object, Claim>();

/** What "the same request" means for a key: the route, its path parameters and the body as sent. */
export function fingerprintOf(event: ApiEvent): string {
  const { routeKey, pathParameters, body, isBase64Encoded } = event;
  const text =
    body === undefined ? '' : isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  return sha256Hex(`${routeKey}\n${JSON.stringify(pathParameters ?? {})}\n${text}`);
}

function checkKey(key: string): void {
  if (!KEY_PATTERN.test(key)) {
    throw new ValidationError([
      { field: 'Idempotency-Key', problem: 'must be 1-255 visible ASCII characters' },
    ]);
  }
}

/**
 * The scope of the operator's backends' keys on the metering API. They may charge thousands of times a
 * second, so their records spread over 256 partitions by the key's hash instead of sharing one.
 */
export function serviceScope(keyHash: string): string {
  return `service-${keyHash.slice(0, 2)}`;
}

/** The request's Idempotency-Key, where one is required: a 400 without one or with a malformed one. */
export function requiredIdempotencyKey(event: ApiEvent): string {
  const key = header(event, 'idempotency-key');
  if (key === undefined) throw new ValidationError([{ field: 'Idempotency-Key', problem: 'is required' }]);
  checkKey(key);
  return key;
}

/**
 * A replay is an early response: the outer middlewares' `after` does not run, so it gets the security headers
 * here (records stored before they existed included).
 */
function asReplay(response: StoredResponse | undefined): ApiResult | undefined {
  return response && { ...response, headers: { ...response.headers, ...SECURITY_HEADERS } };
}

/**
 * The largest answer body kept for replays, as stored (a binary answer's base64 text): well under DynamoDB's
 * 400 KB item, next to the record's fingerprint, ids and headers.
 */
export const MAX_STORED_BODY_BYTES = 300 * 1024;

/**
 * What a replay of an answer too large to keep gives instead: a 409 saying so, with the first answer's status
 * and its headers (request id, `x-cost`), so the caller learns the request ran, and was charged, once; it is
 * never run again under this key.
 */
function tooLargeToReplay(response: StoredResponse): StoredResponse {
  return {
    statusCode: 409,
    headers: { ...response.headers, 'content-type': 'application/json' },
    body: JSON.stringify({
      error:
        `The first answer to this Idempotency-Key (status ${response.statusCode}) was too large to keep for ` +
        'replays; the request ran once and is not run again under this key',
      code: 'idempotency_answer_too_large',
      original_status: response.statusCode,
    }),
  };
}

/** The answer as it is stored: itself, or (larger than MAX_STORED_BODY_BYTES) its summary. */
export function storedAnswer(response: StoredResponse): StoredResponse {
  return Buffer.byteLength(response.body, 'utf8') > MAX_STORED_BODY_BYTES
    ? tooLargeToReplay(response)
    : response;
}

function redacted(body: string, fields: string[]): string {
  if (!fields.length || !body) return body;
  const parsed = JSON.parse(body) as Record<string, unknown>;
  for (const field of fields) if (field in parsed) parsed[field] = null;
  return JSON.stringify(parsed);
}

/**
 * `scopeOf` names whose keys these are: the caller's account, or the operator. `redact` lists response
 * fields never to store (secrets shown once); a replay answers them as null. `required`: a request without
 * a key is refused (the metering API, whose callers retry across networks, must always be exactly-once).
 * `fingerprint`: what "the same request" means, when not `fingerprintOf` (a proxy route's raw bytes).
 */
export function idempotent(
  scopeOf: (request: ApiRequest) => string,
  options: { redact?: string[]; required?: boolean; fingerprint?: (event: ApiEvent) => string } = {},
): ApiMiddleware {
  const redact = options.redact ?? [];
  const fingerprintOfRequest = options.fingerprint ?? fingerprintOf;
  return {
    before: async (request) => {
      const key = options.required
        ? requiredIdempotencyKey(request.event)
        : header(request.event, 'idempotency-key');
      if (key === undefined) return;
      checkKey(key);
      const scope = scopeOf(request);
      const keyHash = sha256Hex(key);
      const fingerprint = fingerprintOfRequest(request.event);
      const owner = randomUUID();
      // Real elapsed time, not the settable clock: this bounds how long the function runs (a frozen test clock
      // would otherwise wait until the Lambda timeout).
      const deadline = performance.now() + idempotencyWait.waitMs;
      for (;;) {
        const claim = await claimKey({
          scope,
          keyHash,
          fingerprint,
          requestId: request.context.api.requestId,
          owner,
          nowMs: nowMs(),
        });
        if (claim.outcome === 'mismatch') throw new IdempotencyKeyReusedError();
        if (claim.outcome === 'completed') return asReplay(claim.record.response);
        if (claim.outcome === 'claimed') {
          const requestId = claim.record.request_id;
          request.context.api.requestId = requestId;
          request.context.api.entryId = requestId.slice(4);
          request.context.api.idempotencyReference = `idem:${scope}:${keyHash}`;
          claims.set(request.context, { key: claim.key, owner });
          return;
        }
        // Another attempt holds the key: wait for its answer rather than running twice.
        if (performance.now() > deadline) throw new IdempotencyInProgressError();
        await sleep(idempotencyWait.pollMs);
        const current = await readRecord(claim.key);
        if (current?.status === 'completed' && current.fingerprint === fingerprint)
          return asReplay(current.response);
      }
    },
    after: async (request) => {
      const claim = claims.get(request.context);
      if (!claim || !request.response) return;
      const { statusCode, headers, body, isBase64Encoded } = request.response;
      await completeKey(
        claim.key,
        claim.owner,
        storedAnswer({
          statusCode,
          headers: { ...headers, 'x-request-id': request.context.api.requestId },
          body: redacted(body, redact),
          ...(isBase64Encoded ? { isBase64Encoded } : {}),
        }),
      );
    },
    onError: async (request) => {
      const claim = claims.get(request.context);
      if (!claim) return;
      const { status, body } = errorResponse(request.error);
      // The request's own error is the answer: a write here that fails (its partition throttled, say) must
      // not replace a 503 `temporarily_unavailable` with a 500. The key's lease then runs out and a retry
      // takes it over with the same request id, whose records make the money exactly-once anyway.
      try {
        if (request.error instanceof ValidationError || request.error instanceof RateLimitedError) {
          // Nothing ran: the caller may correct the request (or wait retry-after) and send it again under
          // the same key.
          await forgetKey(claim.key, claim.owner);
        } else if (status >= 500) {
          await releaseKey(claim.key, claim.owner);
        } else {
          await completeKey(claim.key, claim.owner, {
            statusCode: status,
            headers: { 'content-type': 'application/json', 'x-request-id': request.context.api.requestId },
            body: JSON.stringify(body),
          });
        }
      } catch (error) {
        logger.warn('idempotency key not finished after an error; its lease will expire', { error, status });
      }
    },
  };
}
