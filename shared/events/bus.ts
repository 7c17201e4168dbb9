// The project's EventBridge bus, seen from the one function that puts events on it: the event delivery
// consumer of the table's stream (shared/events/delivery.ts). Every other function records its events in
// the table (shared/events/outbox.ts). Locally (and in tests) the events go to an in-memory sink instead.

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import { awsCalls, awsClientConfig } from '#infra/definitions/timeouts.ts';
import { config, MissingConfigurationError } from '../config.ts';
import { logger, metrics } from '../observability/powertools.ts';
import type { BillingEvent } from './outbox.ts';

export const EVENT_SOURCE = 'credits.billing';

/** PutEvents takes at most 10 entries. */
const ENTRIES_PER_PUT = 10;

type LocalEventSink = {
  __localEvents?: BillingEvent[];
  /** The local stack's stand-in for the bus rule → notification queue → worker (and tests' capture). */
  __localNotify?: (events: BillingEvent[]) => Promise<void> | void;
};

let client: EventBridgeClient | undefined;
let clientGiven = false;

/** Tests swap in a client (fault injection, capture); it is then used in local mode as well. */
export function setEventBusClient(given: EventBridgeClient | undefined): void {
  client = given;
  clientGiven = given !== undefined;
}

/**
 * Puts the events on the bus in order; answers how many were accepted before the first that was not (all of
 * them on success). The caller has the rest delivered again: the bus may then see an event twice, always
 * under its own `event_id`, which subscribers deduplicate on.
 */
export async function putOnBus(events: BillingEvent[]): Promise<number> {
  if (config.localMode && !clientGiven) {
    const sink = globalThis as LocalEventSink;
    sink.__localEvents?.push(...events);
    await sink.__localNotify?.(events);
    return events.length;
  }
  const busName = config.eventBusName;
  if (!busName) throw new MissingConfigurationError('EVENT_BUS_NAME is not set');
  client ??= new EventBridgeClient(awsClientConfig(awsCalls.eventBridge));
  let accepted = 0;
  while (accepted < events.length) {
    const chunk = events.slice(accepted, accepted + ENTRIES_PER_PUT);
    let result: PutEventsCommandOutput;
    try {
      result = await client.send(
        new PutEventsCommand({
          Entries: chunk.map((event) => ({
            EventBusName: busName,
            Source: EVENT_SOURCE,
            DetailType: event.type,
            Detail: JSON.stringify(event),
            Time: new Date(event.at),
          })),
        }),
      );
    } catch (error) {
      notPut(error, chunk[0]);
      return accepted;
    }
    // Entries are accepted one by one: those after a rejected one are delivered again with it.
    const rejected = result.FailedEntryCount
      ? (result.Entries?.findIndex((entry) => entry.ErrorCode) ?? 0)
      : -1;
    if (rejected >= 0) {
      notPut(
        new Error(`PutEvents rejected the entry: ${result.Entries?.[rejected]?.ErrorCode}`),
        chunk[rejected],
      );
      return accepted + rejected;
    }
    accepted += chunk.length;
  }
  return accepted;
}

/** Counted (metric `EventPublishFailed`, alarmed): the stream retries, so nothing is lost unless retries run out. */
function notPut(error: unknown, event: BillingEvent | undefined): void {
  logger.warn('billing events not put on the bus; the stream delivers them again', {
    error,
    eventId: event?.event_id,
  });
  metrics.addMetric('EventPublishFailed', MetricUnit.Count, 1);
}
