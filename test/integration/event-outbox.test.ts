// No event is lost: each billing event is an item written with its change, and the table's stream delivers
// it to the bus at least once under its own id and time. The bus here is a real EventBridge client whose
// requests never leave the process: a middleware records what it was given and injects the faults.
import { randomUUID } from 'node:crypto';
import { EventBridgeClient, type PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import type { DynamoDBRecord } from 'aws-lambda';
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  type MockInstance,
  vi,
} from 'vitest';
import { functions } from '#infra/definitions/functions.ts';
import { adjustCredits } from '#shared/accounts/service.ts';
import { setEventBusClient } from '#shared/events/bus.ts';
import type { BillingEvent } from '#shared/events/outbox.ts';
import { newUlid } from '#shared/ids.ts';
import type { Micros } from '#shared/money.ts';
import { metrics } from '#shared/observability/powertools.ts';
import { startStreamPoller } from '../../local/stream-poller.ts';
import { fundedAccount } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { countCommands, restoreClient } from '../support/faults.ts';
import { deliverRecordedEvents } from '../support/stream.ts';

type Entry = NonNullable<PutEventsCommandInput['Entries']>[number];

/** The fake bus's faults, each used up as it happens. */
type Faults = {
  /** The next PutEvents calls fail before the bus takes anything. */
  unavailable: number;
  /** The bus takes the next calls' entries, then the reply is lost. */
  lostReplies: number;
  /** The first entry matching this is rejected (FailedEntryCount); the others of its call are taken. */
  reject?: (event: BillingEvent) => boolean;
};

let faults: Faults;
let taken: Entry[];
let addMetric: MockInstance<typeof metrics.addMetric>;

beforeAll(() => {
  process.env.EVENT_BUS_NAME = 'credits-test-bus';
  const client = new EventBridgeClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  client.middlewareStack.add(
    () => async (args) => {
      const entries = (args.input as PutEventsCommandInput).Entries ?? [];
      if (faults.unavailable > 0) {
        faults.unavailable--;
        throw Object.assign(new Error('bus unavailable'), { name: 'InternalException' });
      }
      const rejected = faults.reject
        ? entries.findIndex((entry) => faults.reject?.(JSON.parse(entry.Detail ?? '{}') as BillingEvent))
        : -1;
      if (rejected >= 0) faults.reject = undefined;
      taken.push(...entries.filter((_, index) => index !== rejected));
      if (faults.lostReplies > 0) {
        faults.lostReplies--;
        throw Object.assign(new Error('socket hang up after the bus took the entries'), {
          name: 'TimeoutError',
        });
      }
      return {
        output: {
          $metadata: {},
          FailedEntryCount: rejected >= 0 ? 1 : 0,
          Entries: entries.map((_, index) =>
            index === rejected ? { ErrorCode: 'InternalFailure' } : { EventId: randomUUID() },
          ),
        },
        response: {},
      } as never;
    },
    { step: 'initialize', name: 'fakeBus' },
  );
  setEventBusClient(client);
});

afterAll(() => {
  setEventBusClient(undefined);
});

beforeEach(async () => {
  // Whatever earlier tests (and other files on the shared table) recorded is delivered before each test.
  faults = { unavailable: 0, lostReplies: 0 };
  taken = [];
  await deliverRecordedEvents();
  taken = [];
  addMetric = vi.spyOn(metrics, 'addMetric');
});

afterEach(() => {
  vi.restoreAllMocks();
  restoreClient();
});

/** What the bus was given for an account: detail and entry, in order (repeats included). */
function onBus(accountId: string) {
  return taken
    .map((entry) => ({ entry, event: JSON.parse(entry.Detail ?? '{}') as BillingEvent }))
    .filter(({ event }) => event.account_id === accountId);
}

const grant = (accountId: string, usd: number) =>
  adjustCredits({
    accountId,
    amount: (usd * 1_000_000) as Micros,
    reason: `grant ${usd}`,
    entryId: newUlid(),
  });

describe('delivery through the stream', () => {
  it('the event delivered after an injected publish failure, once, under its id and with the time of its change', async () => {
    const { accountId } = await fundedAccount(0);
    faults.unavailable = 1;
    // Every clock reading a millisecond after the one before: the event and its entry must share one reading.
    let tick = Date.now();
    vi.spyOn(Date, 'now').mockImplementation(() => ++tick);
    const entry = await grant(accountId, 5);
    vi.mocked(Date.now).mockRestore();

    await deliverRecordedEvents();
    expect(onBus(accountId)).toHaveLength(0);
    expect(addMetric.mock.calls.filter(([name]) => name === 'EventPublishFailed')).toHaveLength(1);
    await deliverRecordedEvents();
    await deliverRecordedEvents();

    const delivered = onBus(accountId);
    expect(delivered).toHaveLength(1);
    const [{ entry: busEntry, event }] = delivered as [(typeof delivered)[number]];
    expect(event).toMatchObject({
      type: 'credits.granted',
      account_id: accountId,
      amount: 5,
      entry_id: entry.entry_id,
      event_id: expect.stringMatching(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/),
    });
    expect(busEntry).toMatchObject({ Source: 'credits.billing', DetailType: 'credits.granted' });
    expect(busEntry.Time?.toISOString()).toBe(event.at);
    expect(event.at).toBe(entry.created_at);
  });

  it('the 2nd of 3 events rejected by PutEvents: all 3 delivered, every repeat under the same id', async () => {
    const { accountId } = await fundedAccount(0);
    for (const usd of [1, 2, 3]) await grant(accountId, usd);
    faults.reject = (event) => event.account_id === accountId && event.amount === 2;

    await deliverRecordedEvents();
    expect(onBus(accountId).map(({ event }) => event.amount)).toEqual([1, 3]);
    await deliverRecordedEvents();

    const delivered = onBus(accountId).map(({ event }) => event);
    expect([...new Set(delivered.map((event) => event.amount))].sort()).toEqual([1, 2, 3]);
    const byId = Map.groupBy(delivered, (event) => event.event_id);
    expect(byId.size).toBe(3);
    for (const copies of byId.values()) for (const copy of copies) expect(copy).toEqual(copies[0]);
    expect(byId.get(delivered.find((event) => event.amount === 2)!.event_id)).toHaveLength(1);
  });

  it('a reply lost after the bus took a batch of 12 events: all 12 delivered, repeats under the same ids', async () => {
    const { accountId } = await fundedAccount(0);
    for (let usd = 1; usd <= 12; usd++) await grant(accountId, usd);
    faults.lostReplies = 1;

    await deliverRecordedEvents();
    await deliverRecordedEvents();

    const delivered = onBus(accountId).map(({ event }) => event);
    const byId = Map.groupBy(delivered, (event) => event.event_id);
    expect(byId.size).toBe(12);
    for (const copies of byId.values()) {
      expect(copies.length).toBeLessThanOrEqual(2);
      for (const copy of copies) expect(copy).toEqual(copies[0]);
    }
  });

  it('a consumer that crashes after putting a batch of 5 events: redelivered, 5 distinct ids, each twice at most', async () => {
    let crashes = 1;
    const poller = await startStreamPoller({
      endpoint: process.env.DYNAMODB_ENDPOINT!,
      tableName: process.env.TABLE_NAME!,
      invoke: async (name, event: { Records: DynamoDBRecord[] }) => {
        const { handler } = (await import(`../../${functions[name].entry}`)) as {
          handler: (e: unknown) => Promise<unknown>;
        };
        const answer = await handler(event);
        if (crashes > 0) {
          crashes--;
          throw new Error('the invocation timed out after its PutEvents');
        }
        return answer;
      },
    });
    try {
      const { accountId } = await fundedAccount(0);
      for (let usd = 1; usd <= 5; usd++) await grant(accountId, usd);

      await poller.drain();
      expect(onBus(accountId)).toHaveLength(5);
      await poller.drain();

      const delivered = onBus(accountId).map(({ event }) => event);
      expect(delivered).toHaveLength(10);
      const byId = Map.groupBy(delivered, (event) => event.event_id);
      expect(byId.size).toBe(5);
      for (const copies of byId.values()) {
        expect(copies).toHaveLength(2);
        expect(copies[1]).toEqual(copies[0]);
      }
    } finally {
      await poller.stop();
    }
  });
});

describe('an event exists exactly when its change committed', () => {
  it('a correction of $10 on a $5 balance, refused: no credits.corrected event, ever', async () => {
    const { accountId } = await fundedAccount(5);
    await expect(
      adjustCredits({ accountId, amount: -10_000_000 as Micros, reason: 'too much', entryId: newUlid() }),
    ).rejects.toThrow();

    await deliverRecordedEvents();

    // The $5 that funded the account, and nothing for the refused correction.
    expect(onBus(accountId).map(({ event }) => event.type)).toEqual(['credits.granted']);
  });

  it('a grant replayed 3 times with its Idempotency-Key: one credits.granted event', async () => {
    const { accountId } = await fundedAccount(0);
    const key = `grant-${randomUUID()}`;
    for (let i = 0; i < 3; i++) {
      const answer = await call('POST', `/admin/accounts/${accountId}/credits`, {
        body: { amount: 4, reason: 'replayed' },
        headers: { 'idempotency-key': key },
      });
      expect(answer.status).toBe(201);
    }

    await deliverRecordedEvents();

    expect(onBus(accountId).map(({ event }) => event.type)).toEqual(['credits.granted']);
  });

  it('a successful $0.002 call is still one write (TransactWriteItems), with no event recorded', async () => {
    const { accountId, token } = await fundedAccount(1);
    await call('POST', '/v1/demo/echo', { token, body: { text: 'warm' } });
    await deliverRecordedEvents();
    const counts = countCommands();

    const answer = await call('POST', '/v1/demo/echo', { token, body: { text: 'counted' } });

    expect(answer.status).toBe(200);
    expect(counts.get('TransactWriteItemsCommand')).toBe(1);
    expect((counts.get('PutItemCommand') ?? 0) + (counts.get('UpdateItemCommand') ?? 0)).toBe(0);
    restoreClient();
    await deliverRecordedEvents();
    expect(onBus(accountId).map(({ event }) => event.type)).toEqual(['credits.granted']);
  });
});
