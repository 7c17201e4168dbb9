// Where requests meet the rate limiter: right after a token is known (shared/http/middleware.ts
// `authenticated`, and the metering API's customer token), before any DynamoDB write, charge or feature work.
// A refusal touches nothing outside this instance's memory.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { nowMs } from '../clock.ts';
import { config, type RateLimit } from '../config.ts';
import { RateLimitedError } from '../errors.ts';
import { logger, metrics } from '../observability/powertools.ts';
import { RateLimiter } from './limiter.ts';
import { addToSharedCount } from './shared-count.ts';

export type RateLimited = { accountId: string; tokenId: string; rateLimit?: RateLimit | undefined };

const limiter = new RateLimiter({
  share: addToSharedCount,
  onSyncError: (error) => logger.warn('rate limit count not shared', { error }),
});

/** Counts one request of the token (and its account); throws RateLimitedError when either has no room. */
export function enforceRateLimit(principal: RateLimited): void {
  const decision = limiter.admit(
    [
      { key: `TOKEN#${principal.tokenId}`, limit: principal.rateLimit ?? config.rateLimit },
      { key: `ACCOUNT#${principal.accountId}`, limit: config.accountRateLimit },
    ],
    nowMs(),
    config.rateLimitSync === 'table',
  );
  if (!decision.admitted) {
    metrics.addMetric('RateLimited', MetricUnit.Count, 1);
    throw new RateLimitedError(decision.retryAfterSeconds);
  }
}

/** Tests and the bench: wait for the syncs under way, or forget every bucket (each starts full again). */
export const rateLimiter = {
  settled: () => limiter.settled(),
  clear: () => limiter.clear(),
};
