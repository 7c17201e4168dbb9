// DynamoDB Local held to a per-partition write limit (shared/dynamo/write-limiter.ts), on a clock that stands
// still so the counts are exact: one partition is refused past its limit, two partitions at half of it each
// are not, and a transaction costs each of its actions twice.
import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDocumentClient } from '#shared/dynamo/client.ts';
import { PartitionWriteLimiter, useWriteLimiter } from '#shared/dynamo/write-limiter.ts';

const TABLE = process.env.TABLE_NAME!;
const LIMIT = 100;
const client = createDocumentClient(process.env.DYNAMODB_ENDPOINT);

const put = (pk: string) =>
  client.send(new PutCommand({ TableName: TABLE, Item: { PK: pk, SK: randomUUID(), n: 1 } }));

async function itemsIn(pk: string): Promise<number> {
  const page = await client.send(
    new QueryCommand({
      TableName: TABLE,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      Select: 'COUNT',
    }),
  );
  return page.Count ?? 0;
}

/** Settles every promise; answers the fulfilled count and the rejections. */
async function outcomes(calls: Promise<unknown>[]) {
  const settled = await Promise.allSettled(calls);
  const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
  return { ok: settled.length - errors.length, errors };
}

let limiter: PartitionWriteLimiter;
beforeEach(() => {
  limiter = new PartitionWriteLimiter({ unitsPerSecond: LIMIT, now: () => 0 });
  useWriteLimiter(limiter);
});
afterEach(() => useWriteLimiter(undefined));

describe('the per-partition write limit in front of DynamoDB Local', () => {
  it('refuses one partition past its limit, as a throttle the SDK retried', async () => {
    // Prepare
    const pk = `LIMIT#${randomUUID()}`;

    // Act: 150 one-unit puts at once, on a clock that gives nothing back
    const { ok, errors } = await outcomes(Array.from({ length: 150 }, () => put(pk)));

    // Assess
    expect(ok).toBe(LIMIT);
    expect(errors).toHaveLength(50);
    for (const error of errors) {
      expect(error.name).toBe('ThrottlingException');
      // Retried by the SDK's standard strategy as a throttle, to its last attempt.
      expect((error as Error & { $metadata: { attempts: number } }).$metadata.attempts).toBe(
        await client.config.maxAttempts(),
      );
    }
    expect(await itemsIn(pk)).toBe(LIMIT);
  });

  it('lets two partitions at half the limit each through', async () => {
    const [a, b] = [`LIMIT#${randomUUID()}`, `LIMIT#${randomUUID()}`];
    const { ok, errors } = await outcomes(Array.from({ length: LIMIT }, (_, i) => put(i % 2 ? a : b)));
    expect(errors).toEqual([]);
    expect(ok).toBe(LIMIT);
    expect([await itemsIn(a), await itemsIn(b)]).toEqual([LIMIT / 2, LIMIT / 2]);
  });

  it('charges a transaction twice per action, and cancels it with ThrottlingError where it is refused', async () => {
    // Prepare: two-action transactions cost 4 units of one partition; the limit holds 25 of them.
    const pk = `LIMIT#${randomUUID()}`;
    const other = `LIMIT#${randomUUID()}`;
    const pair = (first: string, second: string) =>
      client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: TABLE, Item: { PK: first, SK: randomUUID() } } },
            { Put: { TableName: TABLE, Item: { PK: second, SK: randomUUID() } } },
          ],
        }),
      );

    // Act
    const { ok, errors } = await outcomes(Array.from({ length: 30 }, () => pair(pk, pk)));
    const mixed = await pair(other, pk).catch((error: unknown) => error);

    // Assess
    expect(ok).toBe(LIMIT / 4);
    expect(errors).toHaveLength(5);
    for (const error of errors) {
      expect(error).toBeInstanceOf(TransactionCanceledException);
      expect((error as TransactionCanceledException).CancellationReasons).toEqual([
        expect.objectContaining({ Code: 'ThrottlingError' }),
        expect.objectContaining({ Code: 'ThrottlingError' }),
      ]);
    }
    expect((mixed as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual([
      'None',
      'ThrottlingError',
    ]);
    expect(await itemsIn(pk)).toBe(2 * (LIMIT / 4));
    expect(await itemsIn(other)).toBe(0);
    expect(limiter.stats().admittedUnits).toBe(LIMIT);
  });

  it('charges plain writes once: the same partition takes twice as many single puts', async () => {
    const pk = `LIMIT#${randomUUID()}`;
    const { ok } = await outcomes(Array.from({ length: LIMIT / 2 }, () => put(pk)));
    const single = await put(pk).then(() => 'written');
    expect([ok, single]).toEqual([LIMIT / 2, 'written']);
    expect(limiter.stats().admittedUnits).toBe(LIMIT / 2 + 1);
  });
});
