// Token-bucket arithmetic on a given clock, pure: what the rate limiter (limiter.ts) decides with.
import type { RateLimit } from '../config.ts';

/**
 * `tokens` requests may be let through now. It can be negative: requests that other instances let through,
 * learnt after the fact from the shared count, are owed before this instance lets more through.
 */
export type Bucket = { tokens: number; atMs: number };

export function fullBucket(limit: RateLimit, nowMs: number): Bucket {
  return { tokens: limit.burst, atMs: nowMs };
}

/** Adds what `limit` refilled since the bucket was last looked at, never above `burst`; a clock moved back adds nothing. */
export function refill(bucket: Bucket, limit: RateLimit, nowMs: number): void {
  if (nowMs > bucket.atMs) {
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((nowMs - bucket.atMs) * limit.rps) / 1000);
    bucket.atMs = nowMs;
  } else if (bucket.tokens > limit.burst) {
    bucket.tokens = limit.burst;
  }
}

export function hasRoom(bucket: Bucket): boolean {
  return bucket.tokens >= 1;
}

/** Whole seconds until a refilled bucket has room for one request: at least 1, as `retry-after` must be. */
export function retryAfterSeconds(bucket: Bucket, limit: RateLimit): number {
  return Math.max(1, Math.ceil((1 - bucket.tokens) / limit.rps));
}
