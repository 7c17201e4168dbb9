// The jobs' gate on the rollups: the invoicing job claims an account's period, and the metering job a
// buyer's hour, only once the rollup consumer has applied every accrued ledger entry the account had when
// the job looked. Both counts are exact: the account item adds one to `accrual_entries` in the transaction
// of each entry written with `billing_mode`, and the consumer adds the same entries to the watermark's
// `accrual_entries_applied` in the transaction that rolls them in (once, by the entry's marker).
//
// The account's count is read first, then the watermark until it has reached that count. The consumer
// applies an account's entries in the order the stream delivers them (all of them share the partition key
// `ACCOUNT#<id>`), stopping at a batch's first failure, so reaching the count means every entry counted was
// rolled in; a busy account's later entries only make the watermark pass it. The gate keeps each entry in
// its own period or hour; the billed total never depends on it: an entry that reaches a claimed period or
// hour anyway is billed in the next one.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { sleep } from '../dynamo/transact.ts';
import { ACCRUAL_COUNT } from '../ledger/accrual.ts';

/** How long a job waits, at most, for one account's rollups before it leaves the account for its next run. */
export const DEFAULT_ROLLUP_WAIT_MS = 5_000;
const POLL_MS = 200;

export type RollupCheck =
  | { caughtUp: true }
  /** `behind` accrued entries of the account were not rolled up yet when the job gave up waiting. */
  | { caughtUp: false; behind: number };

async function readCount(key: Record<string, string>, attribute: string): Promise<number> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: key,
      ConsistentRead: true,
      ProjectionExpression: '#count',
      ExpressionAttributeNames: { '#count': attribute },
    }),
  );
  return Number(result.Item?.[attribute] ?? 0);
}

export type RollupGate = { check(accountId: string): Promise<RollupCheck> };

/**
 * A job run's gate. Each account may wait up to `waitMs` for the consumer (a busy account's newest entries
 * are a fraction of a second behind); once one account waited in vain, the consumer is behind for everyone,
 * and the run's later accounts are checked without waiting, so a lagging consumer never stalls the run.
 */
export function rollupGate(waitMs = DEFAULT_ROLLUP_WAIT_MS): RollupGate {
  let consumerBehind = false;
  return {
    async check(accountId) {
      const accrued = await readCount(keys.account(accountId), ACCRUAL_COUNT);
      if (accrued === 0) return { caughtUp: true };
      const deadline = performance.now() + (consumerBehind ? 0 : waitMs);
      for (;;) {
        const applied = await readCount(keys.usageWatermark(accountId), 'accrual_entries_applied');
        if (applied >= accrued) return { caughtUp: true };
        if (performance.now() >= deadline) {
          consumerBehind = true;
          return { caughtUp: false, behind: accrued - applied };
        }
        await sleep(POLL_MS);
      }
    },
  };
}
