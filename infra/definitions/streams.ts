// The consumers of the table's stream, declared once as data: the CDK API stack maps each to its function
// with these settings, and the local stack's poller (local/stream-poller.ts) feeds the same functions the
// same records, through the same filter. A new consumer (like the usage rollups) is one more entry here and
// a function spec; it reads the stream on its own, so it never delays or repeats another consumer's work.
import type { FunctionName } from './functions.ts';

/** A Lambda event filter pattern on a stream record (`FilterCriteria`): arrays list the accepted values. */
export type RecordPattern = { [field: string]: RecordPattern | readonly (string | number)[] };

export type StreamConsumer = {
  function: FunctionName;
  /** Only records matching one of these reach the function (and are billed as invocations). */
  filters: readonly RecordPattern[];
  /** Records per invocation at most. */
  batchSize: number;
  /** Retries of a failed batch (bisected on each failure) before it goes to the on-failure queue. */
  retryAttempts: number;
};

export const streamConsumers: readonly StreamConsumer[] = [
  {
    // Billing events, recorded with their changes (shared/events/outbox.ts), put on the bus at least once.
    function: 'eventDelivery',
    filters: [{ eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['event'] } } } }],
    batchSize: 100,
    // An outage of the bus is ridden out for about as long as the stream keeps records (24 h), with
    // Lambda's backoff between tries; a batch that still fails is reported to the on-failure queue.
    retryAttempts: 1_000,
  },
  {
    // Rollups (shared/usage/rollups.ts): every new ledger entry (usage and reversals add to the usage
    // rollups, accrued ones to their period item or hour record; every entry counts in the account's
    // watermark), applied exactly once by its marker.
    function: 'usageRollups',
    filters: [{ eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['ledger'] } } } }],
    batchSize: 100,
    // Like event delivery: a failing batch is retried for about as long as the stream keeps it.
    retryAttempts: 1_000,
  },
];

/** Whether a stream record (as Lambda sees it) matches a pattern: the local poller's filter. */
export function matchesPattern(value: unknown, pattern: RecordPattern): boolean {
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(pattern).every(([field, expected]) => {
    const actual = (value as Record<string, unknown>)[field];
    if (Array.isArray(expected)) return expected.includes(actual as string | number);
    return matchesPattern(actual, expected as RecordPattern);
  });
}
