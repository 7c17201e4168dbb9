// When a failed webhook attempt is tried again: exponential-ish backoff from seconds to hours, 8 attempts over
// about 27.6 hours (the contract asks for at least 24), then the delivery is failed for good.

/** The wait after attempt n failed is RETRY_DELAYS_SECONDS[n - 1]. */
export const RETRY_DELAYS_SECONDS = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600] as const;

export const MAX_ATTEMPTS = RETRY_DELAYS_SECONDS.length + 1;

/** Milliseconds to wait after `attempt` (1-based) failed, or undefined when it was the last one. */
export function retryDelayMs(attempt: number): number | undefined {
  const seconds = RETRY_DELAYS_SECONDS[attempt - 1];
  return seconds === undefined ? undefined : seconds * 1000;
}

/** An endpoint that has failed every attempt for this long is disabled. */
export const DISABLE_AFTER_FAILING_MS = 3 * 86_400_000;

/** A claimed attempt with no recorded outcome after this long was lost (its worker stopped): count it failed. */
export const LOST_ATTEMPT_AFTER_MS = 2 * 60_000;
