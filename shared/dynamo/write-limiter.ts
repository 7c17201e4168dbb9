// Local mode only: DynamoDB's per-partition write limit, which DynamoDB Local does not enforce, put back in
// front of it so tests and the bench can see what a hot account does at the limit (scaled down: e.g. 100 write
// units/s per partition key instead of AWS's 1,000).
//
// Where it sits: an AWS SDK v3 middleware on the clients `createDocumentClient` builds for a local endpoint
// (never on a cloud client), at `finalizeRequest` with low priority: inside the SDK's retry loop, so every
// attempt is counted and a refusal goes through the SDK's own retry strategy exactly as DynamoDB's would. One
// limiter per process, shared by every client, so the bench's concurrent callers and a test's many clients
// fill the same buckets. An HTTP proxy in front of DynamoDB Local's port would also cover other processes, but
// would have to parse the wire protocol and fake HTTP errors; nothing in the project runs writers in another
// process, so the middleware is the smaller, exact choice.
//
// Accounting, as DynamoDB bills writes: a PutItem costs its item's size in started KB; an UpdateItem or
// DeleteItem is billed by DynamoDB on the larger of the old and new item, which this cannot know without a
// read: it charges the key plus the update's values instead (so it undercounts an update of an item over
// 1 KB; the bench reports the real sizes of the charge's items). TransactWriteItems charges each action
// (ConditionCheck included) twice; BatchWriteItem each request once. Reads are not limited.
//
// The window: one token bucket per table and partition key value, refilled at the limit per second and holding
// at most one second of it (`burstSeconds`): a partition idle for a second can take one second's units at once,
// and none can sustain more than the limit. A refused request takes nothing from its buckets. A single write
// larger than a full bucket is let through when the bucket is full (it would otherwise never pass).
//
// Refusals, as an on-demand table answers them: a plain write or a batch fails with `ThrottlingException`
// (reason `TableWriteKeyRangeThroughputExceeded`, `$retryable.throttling`, so the SDK backs off and retries it
// as a throttle); a transaction fails with `TransactionCanceledException` whose reasons are `ThrottlingError`
// for the actions on a refused partition and `None` for the others. (DynamoDB would answer a batch with some
// refused partitions by returning those requests as UnprocessedItems; the project's only batch writer is a
// test's seeding, so a batch here passes or fails whole.)
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBClient,
  ThrottlingException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { config } from '../config.ts';
import { itemSize, writeUnits } from './item-size.ts';

type Item = Record<string, AttributeValue>;

/** One write action of a request: the partition it lands in and the write units it costs. */
export type PartitionWrite = { partition: string; units: number };

export type WriteRequest = {
  kind: 'single' | 'transaction' | 'batch';
  writes: PartitionWrite[];
  table: string | undefined;
};

/** One item write, whichever action: a put names its item, the others its key. */
type ItemWrite = { TableName?: string; Item?: Item; Key?: Item; ExpressionAttributeValues?: Item };

type WriteInput = ItemWrite & {
  TransactItems?: { Put?: ItemWrite; Update?: ItemWrite; Delete?: ItemWrite; ConditionCheck?: ItemWrite }[];
  RequestItems?: Record<string, { PutRequest?: ItemWrite; DeleteRequest?: ItemWrite }[]>;
};

/** Bytes billed for one item write: the item for a put; for an update the key and its values (see above). */
function billedBytes(write: ItemWrite): number {
  if (write.Item) return itemSize(write.Item);
  return itemSize(write.Key ?? {}) + itemSize(write.ExpressionAttributeValues ?? {});
}

function partitionWrite(table: string | undefined, write: ItemWrite, partitionKey: string, factor = 1) {
  const key = write.Item ?? write.Key;
  return {
    partition: `${table ?? ''}|${JSON.stringify(key?.[partitionKey] ?? null)}`,
    units: factor * writeUnits(billedBytes(write)),
  };
}

const SINGLE_WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);
/** A transactional write costs twice a plain one, per action (condition checks included). */
const TRANSACTION_FACTOR = 2;

/** The writes a command makes, by partition; undefined for a command that writes nothing. */
export function writesOf(
  commandName: string,
  input: WriteInput,
  partitionKey = 'PK',
): WriteRequest | undefined {
  if (SINGLE_WRITES.has(commandName)) {
    return {
      kind: 'single',
      table: input.TableName,
      writes: [partitionWrite(input.TableName, input, partitionKey)],
    };
  }
  if (commandName === 'TransactWriteItemsCommand') {
    const actions = (input.TransactItems ?? []).map(
      (action) => action.Put ?? action.Update ?? action.Delete ?? action.ConditionCheck ?? {},
    );
    return {
      kind: 'transaction',
      table: actions[0]?.TableName,
      writes: actions.map((one) => partitionWrite(one.TableName, one, partitionKey, TRANSACTION_FACTOR)),
    };
  }
  if (commandName === 'BatchWriteItemCommand') {
    const requests = Object.entries(input.RequestItems ?? {}).flatMap(([table, list]) =>
      list.map((request) =>
        partitionWrite(table, request.PutRequest ?? request.DeleteRequest ?? {}, partitionKey),
      ),
    );
    return { kind: 'batch', table: Object.keys(input.RequestItems ?? {})[0], writes: requests };
  }
  return undefined;
}

export type WriteLimiterOptions = {
  /** Write units per second per partition key. */
  unitsPerSecond: number;
  /** Seconds of unused capacity a partition keeps for a burst (default 1). */
  burstSeconds?: number;
  /** Milliseconds on a monotonic clock; tests pass a clock they move. */
  now?: () => number;
  partitionKey?: string;
};

export type WriteLimiterStats = {
  admittedRequests: number;
  admittedUnits: number;
  throttledRequests: number;
};

type Bucket = { tokens: number; at: number };

/** The per-partition token buckets of one process. */
export class PartitionWriteLimiter {
  readonly unitsPerSecond: number;
  readonly partitionKey: string;
  private readonly capacity: number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly counts: WriteLimiterStats = {
    admittedRequests: 0,
    admittedUnits: 0,
    throttledRequests: 0,
  };

  constructor(options: WriteLimiterOptions) {
    if (!(options.unitsPerSecond > 0)) throw new Error('the write limit must be a positive number');
    this.unitsPerSecond = options.unitsPerSecond;
    this.capacity = options.unitsPerSecond * (options.burstSeconds ?? 1);
    this.now = options.now ?? (() => performance.now());
    this.partitionKey = options.partitionKey ?? 'PK';
  }

  private bucket(partition: string, at: number): Bucket {
    const bucket = this.buckets.get(partition) ?? { tokens: this.capacity, at };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + ((at - bucket.at) / 1000) * this.unitsPerSecond);
    bucket.at = at;
    this.buckets.set(partition, bucket);
    return bucket;
  }

  /**
   * Takes a request's units from its partitions' buckets if every one of them has them; otherwise takes
   * nothing and answers the partitions that refused.
   */
  admit(writes: PartitionWrite[]): Set<string> {
    const at = this.now();
    const demand = new Map<string, number>();
    for (const write of writes) demand.set(write.partition, (demand.get(write.partition) ?? 0) + write.units);
    const refused = new Set<string>();
    for (const [partition, units] of demand) {
      const bucket = this.bucket(partition, at);
      if (bucket.tokens < units && bucket.tokens < this.capacity) refused.add(partition);
    }
    if (refused.size > 0) {
      this.counts.throttledRequests++;
      return refused;
    }
    for (const [partition, units] of demand) this.bucket(partition, at).tokens -= units;
    this.counts.admittedRequests++;
    this.counts.admittedUnits += [...demand.values()].reduce((sum, units) => sum + units, 0);
    return refused;
  }

  stats(): WriteLimiterStats {
    return { ...this.counts };
  }
}

const THROTTLED_MESSAGE =
  'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your ' +
  'table or index so please try again shortly. If exceptions persist, check if you have a hot key.';

/** The error DynamoDB answers for the refused request (see the module's opening comment). */
export function throttledError(request: WriteRequest, refused: Set<string>): Error {
  const $metadata = { httpStatusCode: 400 };
  if (request.kind === 'transaction') {
    const codes = request.writes.map((write) => (refused.has(write.partition) ? 'ThrottlingError' : 'None'));
    return new TransactionCanceledException({
      message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
      $metadata,
      CancellationReasons: codes.map((Code) =>
        Code === 'None' ? { Code } : { Code, Message: THROTTLED_MESSAGE },
      ),
    });
  }
  const error = new ThrottlingException({
    message: THROTTLED_MESSAGE,
    $metadata,
    throttlingReasons: [
      {
        reason: 'TableWriteKeyRangeThroughputExceeded',
        resource: `arn:aws:dynamodb:us-east-1:000000000000:table/${request.table ?? ''}`,
      },
    ],
  });
  error.$retryable = { throttling: true };
  return error;
}

/** The process's limiter: set by a test, or made once from DYNAMO_WRITE_LIMIT_PER_PARTITION; none by default. */
let processLimiter: PartitionWriteLimiter | undefined | null = null;

export function activeWriteLimiter(): PartitionWriteLimiter | undefined {
  if (processLimiter === null) {
    const unitsPerSecond = config.dynamoWriteLimitPerPartition;
    processLimiter = unitsPerSecond === undefined ? undefined : new PartitionWriteLimiter({ unitsPerSecond });
  }
  return processLimiter;
}

/** Test hook: limit this process's local clients with `limiter` (undefined: no limit). */
export function useWriteLimiter(limiter: PartitionWriteLimiter | undefined): void {
  processLimiter = limiter;
}

/** Adds the limiter to a client of DynamoDB Local (it then limits whenever the process has a limiter). */
export function limitPartitionWrites(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const limiter = activeWriteLimiter();
      const request =
        limiter && writesOf(String(context.commandName), args.input as WriteInput, limiter.partitionKey);
      if (limiter && request) {
        const refused = limiter.admit(request.writes);
        if (refused.size > 0) throw throttledError(request, refused);
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'localPartitionWriteLimit' },
  );
}
