// The benchmark's floor, in one place for `npm run bench` (bench/run.ts) and the profiling scripts
// (bench/handler-profile.ts), so every script compares against the same request: a
// bare two-item TransactWriteItems (an account-like Update and a conditional Put) on a tiny account item.
import { randomUUID } from 'node:crypto';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';

/** The floor's account item, written once before the floor runs. */
export function floorAccount(pk: string): Record<string, unknown> {
  return { PK: pk, SK: 'ACCOUNT', balance: Number.MAX_SAFE_INTEGER };
}

/** The floor's token-limit item (its own partition, like a token's limit item), written once. */
export function floorLimitItem(pk: string): Record<string, unknown> {
  return { PK: `${pk}#LIMIT`, SK: 'TOKEN_LIMIT', spent: 0, headroom: Number.MAX_SAFE_INTEGER };
}

/**
 * One floor transaction: debit the account by `cost`, put one entry under it; `withLimit`: a third item, the
 * conditional update of a limit item in its own partition (the floor of a charge by a token with a limit).
 */
export function floorTransaction(
  table: string,
  pk: string,
  cost: number,
  withLimit = false,
): TransactWriteCommandInput {
  const limit = withLimit
    ? [
        {
          Update: {
            TableName: table,
            Key: { PK: `${pk}#LIMIT`, SK: 'TOKEN_LIMIT' },
            UpdateExpression: 'SET spent = spent + :c, headroom = headroom - :c',
            ConditionExpression: 'headroom >= :c',
            ExpressionAttributeValues: { ':c': cost },
          },
        },
      ]
    : [];
  return {
    TransactItems: [
      {
        Update: {
          TableName: table,
          Key: { PK: pk, SK: 'ACCOUNT' },
          UpdateExpression: 'SET balance = balance - :c',
          ConditionExpression: 'balance >= :c',
          ExpressionAttributeValues: { ':c': cost },
        },
      },
      {
        Put: {
          TableName: table,
          Item: { PK: pk, SK: `ENTRY#${randomUUID()}`, amount: -cost },
          ConditionExpression: 'attribute_not_exists(PK)',
        },
      },
      ...limit,
    ],
  };
}

/**
 * Rate limits lifted for the benches that time charges: thousands of calls on one token in a few seconds are
 * what the default limits (50/s, bursts of 100 per token) refuse. bench/rate.ts times the refusal itself.
 */
export const LIFTED_RATE_LIMITS = {
  RATE_LIMIT_RPS: '1000000',
  RATE_LIMIT_BURST: '1000000',
  RATE_LIMIT_ACCOUNT_RPS: '1000000',
  RATE_LIMIT_ACCOUNT_BURST: '1000000',
} as const;

/** The environment a script sets before importing project code (the logger reads its level on import). */
export function localEnvironment(table: string): Record<string, string> {
  return {
    TABLE_NAME: table,
    LOCAL_MODE: 'true',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    ...LIFTED_RATE_LIMITS,
  };
}

/** Nearest-rank median. */
export function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length / 2) - 1]!;
}

/**
 * Runs `n` rounds of one call of each variant in turn (the first rotating), so slow spells of a shared machine
 * hit every variant alike, then prints each one's median and its ratio to `floorName`'s.
 */
export async function interleaved(
  variants: [name: string, once: () => Promise<number>][],
  n: number,
  floorName: string,
): Promise<void> {
  for (const [, once] of variants) for (let i = 0; i < 100; i++) await once();
  const samples = new Map(variants.map(([name]) => [name, [] as number[]]));
  for (let i = 0; i < n; i++) {
    for (let v = 0; v < variants.length; v++) {
      const [name, once] = variants[(i + v) % variants.length]!;
      samples.get(name)!.push(await once());
    }
  }
  const floor = median(samples.get(floorName)!);
  const width = Math.max(...variants.map(([name]) => name.length));
  for (const [name, values] of samples) {
    const p50 = median(values);
    console.log(`${name.padEnd(width)}  p50 ${p50.toFixed(3)} ms  ×floor ${(p50 / floor).toFixed(2)}`);
  }
}
