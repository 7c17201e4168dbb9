// Logger and metrics: created once per process and shared by every handler. No tracer: active tracing is
// off (README, "Alarms and reconciliation").
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'credits-billing';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'CreditsBilling',
});

/** Emits the buffered metrics (EMF) at the end of an invocation; nothing when none were recorded. */
export function flushMetrics(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}

/**
 * Wraps a Lambda handler so its metrics are published when it returns and when it throws: a metric left in
 * the buffer would be lost, or counted in the next invocation of a warm instance.
 */
export function flushingMetrics<A extends unknown[], R>(
  handler: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await handler(...args);
    } finally {
      flushMetrics();
    }
  };
}
