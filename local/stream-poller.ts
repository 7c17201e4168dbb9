// The table's stream, locally: DynamoDB Local serves DynamoDB Streams, and this poller does for the stream
// consumers (infra/definitions/streams.ts) what Lambda's event source mappings do in the cloud: it reads
// every shard in order, keeps the records each consumer's filter accepts, invokes its function with
// batches of at most its batch size (the Lambda event shape), and on a reported failure (or a throw) reads
// again from the first record not delivered, on the next pass. Each consumer has its own position, so one
// consumer's failures never hold back another.
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import type { FunctionName } from '#infra/definitions/functions.ts';
import { matchesPattern, type StreamConsumer, streamConsumers } from '#infra/definitions/streams.ts';

export type StreamPollerOptions = {
  endpoint: string;
  tableName: string;
  invoke: (name: FunctionName, event: { Records: DynamoDBRecord[] }) => Promise<unknown>;
  /** Poll on a timer (the local stack); without it, records are delivered only by `drain()` (tests). */
  intervalMs?: number;
  consumers?: readonly StreamConsumer[];
  /** Where a delivery that failed is reported (it is retried on the next pass). */
  onError?: (consumer: FunctionName, error: unknown) => void;
};

export type StreamPoller = {
  /**
   * Delivers every record written so far (one pass over every shard) to every consumer, or to `only`;
   * failed batches wait for the next pass.
   */
  drain(only?: FunctionName): Promise<void>;
  stop(): Promise<void>;
};

type Position = { iterator: string | undefined; closed: boolean };

function clientConfig(endpoint: string) {
  return { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
}

/** A record as Lambda hands it to a function (creation time in seconds). */
function lambdaRecord(record: StreamRecord, streamArn: string): DynamoDBRecord {
  const change = record.dynamodb ?? {};
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: record.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(change.ApproximateCreationDateTime
        ? { ApproximateCreationDateTime: change.ApproximateCreationDateTime.getTime() / 1000 }
        : {}),
      Keys: change.Keys,
      NewImage: change.NewImage,
      OldImage: change.OldImage,
      SequenceNumber: change.SequenceNumber,
      SizeBytes: change.SizeBytes,
      StreamViewType: change.StreamViewType,
    },
  } as DynamoDBRecord;
}

/**
 * Starts reading the table's stream from now on (records written before were delivered by the run that
 * wrote them, or are older than a restart: the cloud's consumers start at the trim horizon once, at deploy).
 */
export async function startStreamPoller(options: StreamPollerOptions): Promise<StreamPoller> {
  const streams = new DynamoDBStreamsClient(clientConfig(options.endpoint));
  const table = await new DynamoDBClient(clientConfig(options.endpoint)).send(
    new DescribeTableCommand({ TableName: options.tableName }),
  );
  const streamArn = table.Table?.LatestStreamArn;
  if (!streamArn) throw new Error(`table ${options.tableName} has no stream`);
  const consumers = options.consumers ?? streamConsumers;
  const positions = new Map<FunctionName, Map<string, Position>>(
    consumers.map((c) => [c.function, new Map()]),
  );

  const iteratorAt = async (
    shardId: string,
    type: 'LATEST' | 'TRIM_HORIZON' | 'AT_SEQUENCE_NUMBER',
    sequence?: string,
  ) =>
    (
      await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ShardIteratorType: type,
          ...(sequence ? { SequenceNumber: sequence } : {}),
        }),
      )
    ).ShardIterator;

  /** Learns the stream's shards; `fromNow`: at start, open shards are read from their latest record. */
  const discover = async (fromNow: boolean) => {
    const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription
      ?.Shards;
    for (const shard of shards ?? []) {
      const shardId = shard.ShardId;
      if (!shardId) continue;
      const open = !shard.SequenceNumberRange?.EndingSequenceNumber;
      for (const known of positions.values()) {
        if (known.has(shardId)) continue;
        if (fromNow && !open) known.set(shardId, { iterator: undefined, closed: true });
        else
          known.set(shardId, {
            iterator: await iteratorAt(shardId, fromNow ? 'LATEST' : 'TRIM_HORIZON'),
            closed: false,
          });
      }
    }
  };

  /** Delivers one batch; answers the sequence number to read again from, when the batch was not all delivered. */
  const deliver = async (consumer: StreamConsumer, batch: DynamoDBRecord[]): Promise<string | undefined> => {
    try {
      const response = (await options.invoke(consumer.function, { Records: batch })) as
        | DynamoDBBatchResponse
        | undefined;
      return response?.batchItemFailures?.[0]?.itemIdentifier;
    } catch (error) {
      options.onError?.(consumer.function, error);
      return batch[0]?.dynamodb?.SequenceNumber;
    }
  };

  const readShard = async (consumer: StreamConsumer, shardId: string, position: Position) => {
    while (position.iterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: position.iterator }));
      const records = (page.Records ?? [])
        .map((record) => lambdaRecord(record, streamArn))
        .filter((record) => consumer.filters.some((pattern) => matchesPattern(record, pattern)));
      for (let start = 0; start < records.length; start += consumer.batchSize) {
        const failedAt = await deliver(consumer, records.slice(start, start + consumer.batchSize));
        if (failedAt) {
          position.iterator = await iteratorAt(shardId, 'AT_SEQUENCE_NUMBER', failedAt);
          return;
        }
      }
      position.iterator = page.NextShardIterator;
      if (!position.iterator) position.closed = true;
      if ((page.Records ?? []).length === 0) return;
    }
  };

  const pass = async (only?: FunctionName) => {
    await discover(false);
    for (const consumer of consumers) {
      if (only && consumer.function !== only) continue;
      for (const [shardId, position] of positions.get(consumer.function) ?? []) {
        if (!position.closed) await readShard(consumer, shardId, position);
      }
    }
  };

  await discover(true);
  // Passes never overlap: a drain waits for the pass in flight, then makes its own.
  let running: Promise<void> = Promise.resolve();
  const enqueue = (only?: FunctionName) => {
    running = running.then(
      () => pass(only),
      () => pass(only),
    );
    return running;
  };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = () => {
    enqueue()
      .catch((error: unknown) => options.onError?.(consumers[0]!.function, error))
      .finally(() => {
        if (!stopped && options.intervalMs) timer = setTimeout(tick, options.intervalMs);
      });
  };
  if (options.intervalMs) timer = setTimeout(tick, options.intervalMs);
  return {
    drain: (only) => enqueue(only),
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running.catch(() => {});
      streams.destroy();
    },
  };
}
