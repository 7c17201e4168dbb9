// The event delivery consumer's work: the table's stream hands it the new event items (the event source
// mapping's filter lets nothing else through), in order per shard, at least once; it puts them on the bus
// and reports the first one not accepted, so that one and every later record of the batch are delivered
// again (nothing earlier is). A record redelivered after a crash reaches the bus again under the same
// `event_id`: delivery is at least once, deduplication is by id.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { nowMs } from '../clock.ts';
import { metrics } from '../observability/powertools.ts';
import { putOnBus } from './bus.ts';
import { type BillingEvent, EVENT_ITEM_KIND } from './outbox.ts';

/** The event a stream record carries: a new event item; anything else is not ours to deliver. */
export function eventOfRecord(record: DynamoDBRecord): BillingEvent | undefined {
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== 'INSERT' || !image) return undefined;
  const item = unmarshall(image as Record<string, AttributeValue>);
  return item.kind === EVENT_ITEM_KIND ? (item.event as BillingEvent) : undefined;
}

export async function deliverEventRecords(records: DynamoDBRecord[]): Promise<DynamoDBBatchResponse> {
  const pending: { sequence: string; event: BillingEvent }[] = [];
  for (const record of records) {
    const event = eventOfRecord(record);
    if (event) pending.push({ sequence: record.dynamodb?.SequenceNumber ?? '', event });
  }
  if (pending.length === 0) return { batchItemFailures: [] };
  const accepted = await putOnBus(pending.map((item) => item.event));
  // How long the oldest event of the batch waited between its change and the bus: the outbox's lag.
  const oldest = Math.min(...pending.slice(0, accepted).map((item) => Date.parse(item.event.at)));
  if (accepted > 0) metrics.addMetric('EventDeliveryLagMs', MetricUnit.Milliseconds, nowMs() - oldest);
  const failed = pending[accepted];
  return { batchItemFailures: failed ? [{ itemIdentifier: failed.sequence }] : [] };
}
