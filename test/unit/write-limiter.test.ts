// The local write limiter's accounting and buckets, on a clock the test moves: what a write costs, which
// partition pays, and when a partition refuses.
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { PartitionWriteLimiter, throttledError, writesOf } from '#shared/dynamo/write-limiter.ts';
import { errorResponse } from '#shared/errors.ts';

const key = (pk: string, sk = 'X') => ({ PK: { S: pk }, SK: { S: sk } });
const padded = (pk: string, bytes: number) => ({ ...key(pk), pad: { S: 'x'.repeat(bytes) } });

function clockedLimiter(unitsPerSecond: number, burstSeconds?: number) {
  let now = 0;
  const limiter = new PartitionWriteLimiter({
    unitsPerSecond,
    now: () => now,
    ...(burstSeconds === undefined ? {} : { burstSeconds }),
  });
  return { limiter, advance: (ms: number) => (now += ms) };
}

describe('writesOf', () => {
  it('bills a put by its item size in started KB, in its table and partition', () => {
    expect(writesOf('PutItemCommand', { TableName: 't', Item: padded('A', 2000) })).toEqual({
      kind: 'single',
      table: 't',
      writes: [{ partition: 't|{"S":"A"}', units: 2 }],
    });
  });

  it('bills an update by its key and values, a delete by its key', () => {
    const update = writesOf('UpdateItemCommand', {
      TableName: 't',
      Key: key('A'),
      ExpressionAttributeValues: { ':big': { S: 'x'.repeat(1500) } },
    });
    const deleted = writesOf('DeleteItemCommand', { TableName: 't', Key: key('A') });
    expect(update?.writes).toEqual([{ partition: 't|{"S":"A"}', units: 2 }]);
    expect(deleted?.writes).toEqual([{ partition: 't|{"S":"A"}', units: 1 }]);
  });

  it('bills every transaction action twice, condition checks included', () => {
    const request = writesOf('TransactWriteItemsCommand', {
      TransactItems: [
        { Put: { TableName: 't', Item: padded('A', 1500) } },
        { Update: { TableName: 't', Key: key('A'), ExpressionAttributeValues: { ':n': { N: '1' } } } },
        { ConditionCheck: { TableName: 't', Key: key('B') } },
        { Delete: { TableName: 't', Key: key('C') } },
      ],
    });
    expect(request?.kind).toBe('transaction');
    expect(request?.writes.map((w) => w.units)).toEqual([4, 2, 2, 2]);
    expect(request?.writes.map((w) => w.partition)).toEqual([
      't|{"S":"A"}',
      't|{"S":"A"}',
      't|{"S":"B"}',
      't|{"S":"C"}',
    ]);
  });

  it('bills each request of a batch once, per table', () => {
    const request = writesOf('BatchWriteItemCommand', {
      RequestItems: {
        t: [{ PutRequest: { Item: key('A') } }, { DeleteRequest: { Key: key('B') } }],
        u: [{ PutRequest: { Item: key('A') } }],
      },
    });
    expect(request?.writes).toEqual([
      { partition: 't|{"S":"A"}', units: 1 },
      { partition: 't|{"S":"B"}', units: 1 },
      { partition: 'u|{"S":"A"}', units: 1 },
    ]);
  });

  it('ignores reads', () => {
    expect(writesOf('GetItemCommand', { TableName: 't', Key: key('A') })).toBeUndefined();
    expect(writesOf('QueryCommand', { TableName: 't' })).toBeUndefined();
  });
});

describe('PartitionWriteLimiter', () => {
  const one = (partition: string, units = 1) => [{ partition, units }];

  it('lets a partition take its limit at once, then refuses until time refills it', () => {
    // Prepare
    const { limiter, advance } = clockedLimiter(10);

    // Act
    const first = Array.from({ length: 12 }, () => limiter.admit(one('A')).size === 0);
    advance(100); // a tenth of a second: one unit back
    const afterRefill = [limiter.admit(one('A')).size === 0, limiter.admit(one('A')).size === 0];

    // Assess
    expect(first.filter(Boolean)).toHaveLength(10);
    expect(afterRefill).toEqual([true, false]);
    expect(limiter.stats()).toEqual({ admittedRequests: 11, admittedUnits: 11, throttledRequests: 3 });
  });

  it('keeps partitions apart: two at half the limit each pass', () => {
    const { limiter } = clockedLimiter(10);
    const admitted = Array.from({ length: 10 }, (_, i) => limiter.admit(one(i % 2 ? 'A' : 'B'))).filter(
      (refused) => refused.size === 0,
    );
    expect(admitted).toHaveLength(10);
  });

  it('never stores more than the burst: a long idle partition still takes one second of units', () => {
    const { limiter, advance } = clockedLimiter(10);
    advance(60_000);
    expect(limiter.admit(one('A', 10)).size).toBe(0);
    expect(limiter.admit(one('A')).size).toBe(1);
  });

  it('keeps more seconds for a burst when told to', () => {
    const { limiter } = clockedLimiter(10, 3);
    expect(limiter.admit(one('A', 30)).size).toBe(0);
    expect(limiter.admit(one('A')).size).toBe(1);
  });

  it('refuses a request whole and takes nothing when one of its partitions is short', () => {
    const { limiter } = clockedLimiter(10);
    limiter.admit(one('A', 9));
    const refused = limiter.admit([
      { partition: 'A', units: 2 },
      { partition: 'B', units: 2 },
    ]);
    expect([...refused]).toEqual(['A']);
    expect(limiter.admit(one('B', 10)).size).toBe(0); // B gave nothing to the refused request
    expect(limiter.admit(one('A', 1)).size).toBe(0);
  });

  it('lets one write larger than the whole bucket through when the bucket is full', () => {
    const { limiter } = clockedLimiter(10);
    expect(limiter.admit(one('A', 25)).size).toBe(0);
    expect(limiter.admit(one('A', 1)).size).toBe(1);
  });
});

describe('throttledError', () => {
  it('answers a plain write as an on-demand table does, retryable as a throttle', () => {
    const error = throttledError({ kind: 'single', table: 't', writes: [] }, new Set(['A']));
    expect(error.name).toBe('ThrottlingException');
    expect(error).toMatchObject({
      $retryable: { throttling: true },
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      throttlingReasons: [{ reason: 'TableWriteKeyRangeThroughputExceeded' }],
    });
  });

  it('is answered 503 temporarily_unavailable with retry-after when the SDK gives up on it', () => {
    const error = throttledError({ kind: 'single', table: 't', writes: [] }, new Set(['A']));
    expect(errorResponse(error)).toEqual({
      status: 503,
      body: { error: expect.any(String), code: 'temporarily_unavailable' },
      headers: { 'retry-after': '1' },
    });
  });

  it('cancels a transaction with ThrottlingError for the refused partitions and None for the others', () => {
    const error = throttledError(
      {
        kind: 'transaction',
        table: 't',
        writes: [
          { partition: 'A', units: 2 },
          { partition: 'B', units: 2 },
          { partition: 'A', units: 2 },
        ],
      },
      new Set(['A']),
    );
    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect((error as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual([
      'ThrottlingError',
      'None',
      'ThrottlingError',
    ]);
    expect(error.message).toContain('[ThrottlingError, None, ThrottlingError]');
  });
});
