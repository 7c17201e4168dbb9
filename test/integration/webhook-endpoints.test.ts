// Customer webhook endpoints (issue 16 item 3) against DynamoDB Local and a real HTTP receiver on this
// machine: the routes and their validation, the cloud's address checks (WEBHOOK_TARGETS=public), one
// delivery per event and endpoint however often the event comes, retries under the same webhook-id with the
// log of every attempt, signatures that the `standardwebhooks` library verifies, the 10-second cut, and the
// endpoint disabled after 3 days of failures with its event recorded once. Time moves with the shared clock
// and queued attempts run when `runDueWebhookDeliveries` finds them due.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler as webhookWorker } from '#functions/workers/webhook-delivery.ts';
import { advanceClock, resetClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { billingEvent } from '#shared/events/outbox.ts';
import { deliverAttempt, runDueWebhookDeliveries } from '#shared/webhook-endpoints/deliver.ts';
import { claimAttempt, deliverySortKey } from '#shared/webhook-endpoints/deliveries.ts';
import { MAX_WEBHOOK_ENDPOINTS } from '#shared/webhook-endpoints/endpoints.ts';
import { queueWebhookDeliveries } from '#shared/webhook-endpoints/fan-out.ts';
import { DELIVERY_TIMEOUT_MS } from '#shared/webhook-endpoints/post.ts';
import {
  dropLocalWebhookMessages,
  localWebhookMessages,
  takeDueLocalMessages,
} from '#shared/webhook-endpoints/queue.ts';
import { LOST_ATTEMPT_AFTER_MS, RETRY_DELAYS_SECONDS } from '#shared/webhook-endpoints/schedule.ts';
import { fundedAccount } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { eventsOf, expectContractError } from '../support/assertions.ts';

type Received = { headers: IncomingHttpHeaders; body: string };

/** A receiver on 127.0.0.1 that answers each request with the next scripted status (then the last one). */
class Receiver {
  readonly requests: Received[] = [];
  script: number[] = [200];
  delayMs = 0;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.requests.push({ headers: request.headers, body: Buffer.concat(chunks).toString() });
        const status = this.script[Math.min(this.requests.length - 1, this.script.length - 1)] ?? 200;
        const answer = () => response.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
        if (this.delayMs > 0) setTimeout(answer, this.delayMs).unref();
        else answer();
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  }

  reset(script: number[] = [200]): void {
    this.requests.splice(0);
    this.script = script;
    this.delayMs = 0;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

const receiver = new Receiver();

beforeAll(() => receiver.start());
afterAll(() => receiver.stop());
beforeEach(() => {
  receiver.reset();
  dropLocalWebhookMessages();
});
afterEach(() => {
  resetClock();
  delete process.env.WEBHOOK_TARGETS;
});

async function endpointFor(
  events: string[] = ['*'],
  url = receiver.url,
): Promise<{ accountId: string; token: string; id: string; secret: string }> {
  const { accountId, token } = await fundedAccount(1);
  const created = await call('POST', '/v1/webhook-endpoints', { token, body: { url, events } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return { accountId, token, id: created.body.id, secret: created.body.secret };
}

async function deliveries(token: string, id: string) {
  const response = await call('GET', `/v1/webhook-endpoints/${id}/deliveries`, { token });
  expect(response.status).toBe(200);
  return response.body.data as Record<string, unknown>[];
}

describe('webhook endpoints: the routes', () => {
  it('creates with a whsec_ secret shown once, lists without it, deletes (204), then 404', async () => {
    // Prepare
    const { token } = await fundedAccount(1);

    // Act
    const created = await call('POST', '/v1/webhook-endpoints', {
      token,
      body: { url: receiver.url, events: ['credits.balance.low', 'credits.invoice.paid'] },
    });
    const listed = await call('GET', '/v1/webhook-endpoints', { token });
    const deleted = await call('DELETE', `/v1/webhook-endpoints/${created.body.id}`, { token });
    const afterDelete = await call('GET', '/v1/webhook-endpoints', { token });
    const again = await call('DELETE', `/v1/webhook-endpoints/${created.body.id}`, { token });

    // Assess
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^we_[0-9A-HJKMNP-TV-Z]{26}$/),
      url: receiver.url,
      events: ['credits.balance.low', 'credits.invoice.paid'],
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{32}$/),
      status: 'enabled',
    });
    expect(listed.body.data).toEqual([
      {
        id: created.body.id,
        url: receiver.url,
        events: ['credits.balance.low', 'credits.invoice.paid'],
        status: 'enabled',
        created_at: created.body.created_at,
      },
    ]);
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');
    expect(deleted.status).toBe(204);
    expect(afterDelete.body.data).toEqual([]);
    expectContractError(again, 404, 'not_found');
  });

  it('a retry with the same Idempotency-Key answers the same endpoint with the secret as null, and creates none', async () => {
    // Prepare
    const { token } = await fundedAccount(1);
    const request = {
      token,
      headers: { 'idempotency-key': 'endpoint-once' },
      body: { url: receiver.url, events: ['*'] },
    };

    // Act
    const first = await call('POST', '/v1/webhook-endpoints', request);
    const replay = await call('POST', '/v1/webhook-endpoints', request);
    const listed = await call('GET', '/v1/webhook-endpoints', { token });

    // Assess
    expect(first.status).toBe(201);
    expect(first.body.secret).toMatch(/^whsec_/);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual({ ...first.body, secret: null });
    expect(listed.body.data).toHaveLength(1);
  });

  it.each([
    [{ url: 'not a url', events: ['*'] }, 'url'],
    [{ url: 'ftp://127.0.0.1/hook', events: ['*'] }, 'url'],
    [{ url: 'http://user:pw@127.0.0.1/hook', events: ['*'] }, 'url'],
    [{ url: 'http://127.0.0.1/hook', events: ['credits.nonsense'] }, 'events.0'],
    [{ url: 'http://127.0.0.1/hook', events: ['credits.corrected'] }, 'events.0'],
    [{ url: 'http://127.0.0.1/hook', events: ['*', 'credits.granted'] }, 'events'],
    [{ url: 'http://127.0.0.1/hook', events: [] }, 'events'],
    [{ url: 'http://127.0.0.1/hook' }, 'events'],
  ])('POST %j → 400 naming %s, nothing created', async (body, field) => {
    // Prepare
    const { token } = await fundedAccount(1);

    // Act
    const response = await call('POST', '/v1/webhook-endpoints', { token, body });
    const listed = await call('GET', '/v1/webhook-endpoints', { token });

    // Assess
    expectContractError(response, 400, 'invalid_request', { details: true });
    expect((response.body.details as { field: string }[]).map((d) => d.field)).toContain(field);
    expect(listed.body.data).toEqual([]);
  });

  it(`caps an account at ${MAX_WEBHOOK_ENDPOINTS} endpoints (409), and a deletion frees a place`, async () => {
    // Prepare
    const { token } = await fundedAccount(1);
    const ids: string[] = [];
    for (let i = 0; i < MAX_WEBHOOK_ENDPOINTS; i++) {
      const created = await call('POST', '/v1/webhook-endpoints', {
        token,
        body: { url: receiver.url, events: ['*'] },
      });
      ids.push(created.body.id);
    }

    // Act
    const refused = await call('POST', '/v1/webhook-endpoints', {
      token,
      body: { url: receiver.url, events: ['*'] },
    });
    await call('DELETE', `/v1/webhook-endpoints/${ids[0]}`, { token });
    const afterDelete = await call('POST', '/v1/webhook-endpoints', {
      token,
      body: { url: receiver.url, events: ['*'] },
    });

    // Assess
    expectContractError(refused, 409, 'too_many_webhook_endpoints');
    expect(afterDelete.status).toBe(201);
  });

  it('another account’s endpoint is unknown: 404 for its deliveries, test and delete', async () => {
    // Prepare
    const mine = await endpointFor();
    const theirs = await fundedAccount(1);

    // Act
    const log = await call('GET', `/v1/webhook-endpoints/${mine.id}/deliveries`, { token: theirs.token });
    const test = await call('POST', `/v1/webhook-endpoints/${mine.id}/test`, { token: theirs.token });
    const deleted = await call('DELETE', `/v1/webhook-endpoints/${mine.id}`, { token: theirs.token });

    // Assess
    expectContractError(log, 404, 'not_found');
    expectContractError(test, 404, 'not_found');
    expectContractError(deleted, 404, 'not_found');
    expect(localWebhookMessages()).toEqual([]);
  });
});

describe('webhook endpoints: where a webhook may point (cloud rules, WEBHOOK_TARGETS=public)', () => {
  it.each([
    ['http://93.184.216.34/hook', /https/],
    ['https://10.0.0.1/hook', /private/],
    ['https://169.254.169.254/latest/meta-data', /linkLocal/],
    ['https://127.0.0.1/hook', /loopback/],
    ['https://100.64.0.1/hook', /carrierGradeNat/],
    ['https://[fd00:ec2::254]/hook', /uniqueLocal/],
    ['https://[::ffff:10.0.0.1]/hook', /private/],
    ['https://[::1]/hook', /loopback/],
    ['https://localhost/hook', /loopback/],
  ])('%s → 400 naming url (%s)', async (url, reason) => {
    // Prepare
    const { token } = await fundedAccount(1);
    process.env.WEBHOOK_TARGETS = 'public';

    // Act
    const response = await call('POST', '/v1/webhook-endpoints', { token, body: { url, events: ['*'] } });

    // Assess
    expectContractError(response, 400, 'invalid_request', { details: true });
    expect(response.body.details).toEqual([{ field: 'url', problem: expect.stringMatching(reason) }]);
  });

  it('accepts https to a public address', async () => {
    // Prepare
    const { token } = await fundedAccount(1);
    process.env.WEBHOOK_TARGETS = 'public';

    // Act
    const response = await call('POST', '/v1/webhook-endpoints', {
      token,
      body: { url: 'https://93.184.216.34/hook', events: ['*'] },
    });

    // Assess
    expect(response.status).toBe(201);
  });

  it('refuses and logs a delivery whose address is no longer allowed, without sending or retrying it', async () => {
    // Prepare: an https URL whose host resolves to loopback, accepted by the local rules, then delivered
    // under the cloud's
    const { accountId, token, id } = await endpointFor(['*'], 'https://localhost:9/hook');
    process.env.WEBHOOK_TARGETS = 'public';

    // Act
    await queueWebhookDeliveries(billingEvent('credits.granted', accountId, { amount: 5 }));
    const reports = await runDueWebhookDeliveries();
    advanceClock(RETRY_DELAYS_SECONDS[0] * 1000);
    const later = await runDueWebhookDeliveries();

    // Assess
    expect(reports).toEqual(['refused']);
    expect(later).toEqual([]);
    expect(receiver.requests).toHaveLength(0);
    const [delivery] = await deliveries(token, id);
    expect(delivery).toMatchObject({
      status: 'failed',
      attempts: 1,
      last_error: expect.stringMatching(/^refused: .*loopback/),
    });
  });
});

describe('webhook endpoints: delivery', () => {
  it('a duplicated event yields one delivery, and a redelivered attempt message sends nothing', async () => {
    // Prepare
    const { accountId, token, id } = await endpointFor();
    const event = billingEvent('credits.purchase.succeeded', accountId, { amount: 25 });

    // Act
    await queueWebhookDeliveries(event);
    await queueWebhookDeliveries(event);
    const [message, ...others] = takeDueLocalMessages();
    const first = await deliverAttempt(message!);
    const redelivered = await deliverAttempt(message!);
    await queueWebhookDeliveries(event);

    // Assess
    expect(others).toEqual([]);
    expect([first, redelivered]).toEqual(['succeeded', 'finished']);
    expect(localWebhookMessages()).toEqual([]);
    expect(receiver.requests).toHaveLength(1);
    expect(await deliveries(token, id)).toEqual([
      expect.objectContaining({
        id: event.event_id,
        status: 'succeeded',
        attempts: 1,
        last_status_code: 200,
      }),
    ]);
  });

  it('an attempt claimed by a worker that stopped is retried by SQS, then counted failed without a second POST', async () => {
    // Prepare: a worker claimed attempt 1 and stopped before sending or recording anything
    const { accountId, token, id } = await endpointFor();
    const event = billingEvent('credits.granted', accountId, { amount: 1 });
    await queueWebhookDeliveries(event);
    const [message] = takeDueLocalMessages();
    expect(await claimAttempt(id, message!.delivery, 1)).toBe(true);
    const record = { messageId: 'm-1', body: JSON.stringify(message) };

    // Act
    const whileClaimed = await webhookWorker({ Records: [record] } as never);
    advanceClock(LOST_ATTEMPT_AFTER_MS);
    const afterLease = await webhookWorker({ Records: [record] } as never);
    const logged = (await deliveries(token, id))[0];
    advanceClock(RETRY_DELAYS_SECONDS[0] * 1000);
    const next = await runDueWebhookDeliveries();

    // Assess
    expect(whileClaimed.batchItemFailures).toEqual([{ itemIdentifier: 'm-1' }]);
    expect(afterLease).toMatchObject({ batchItemFailures: [], reports: ['retrying'] });
    expect(logged).toMatchObject({
      status: 'pending',
      attempts: 1,
      last_error: 'no outcome recorded (worker stopped)',
    });
    expect(next).toEqual(['succeeded']);
    expect(receiver.requests).toHaveLength(1);
    expect((await deliveries(token, id))[0]).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('a delivery item written but never queued (a crash) is queued by the caller’s retry', async () => {
    // Prepare: the first call wrote the item; its message is lost and the item not marked queued
    const { accountId, token, id } = await endpointFor();
    const event = billingEvent('credits.granted', accountId, { amount: 1 });
    await queueWebhookDeliveries(event);
    dropLocalWebhookMessages();
    await ddb().send(
      new UpdateCommand({
        TableName: process.env.TABLE_NAME,
        Key: keys.webhookDelivery(id, deliverySortKey(event.at, event.event_id)),
        UpdateExpression: 'REMOVE queued',
      }),
    );

    // Act
    await queueWebhookDeliveries(event);
    const reports = await runDueWebhookDeliveries();

    // Assess
    expect(reports).toEqual(['succeeded']);
    expect(receiver.requests).toHaveLength(1);
    expect((await deliveries(token, id))[0]).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('goes only to enabled endpoints subscribed to the type; events outside the contract go nowhere', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(1);
    const create = (events: string[]) =>
      call('POST', '/v1/webhook-endpoints', { token, body: { url: receiver.url, events } });
    const low = await create(['credits.balance.low']);
    const all = await create(['*']);
    const invoices = await create(['credits.invoice.paid']);

    // Act
    await queueWebhookDeliveries(billingEvent('credits.balance.low', accountId, { balance: 1 }));
    await queueWebhookDeliveries(billingEvent('credits.corrected', accountId, { amount: 1 }));
    await runDueWebhookDeliveries();

    // Assess
    expect(receiver.requests).toHaveLength(2);
    expect((await deliveries(token, low.body.id)).map((d) => d.event_type)).toEqual(['credits.balance.low']);
    expect((await deliveries(token, all.body.id)).map((d) => d.event_type)).toEqual(['credits.balance.low']);
    expect(await deliveries(token, invoices.body.id)).toEqual([]);
  });

  it('a receiver that fails twice then succeeds gets the same webhook-id three times; the log shows each', async () => {
    // Prepare
    const { accountId, token, id, secret } = await endpointFor();
    receiver.reset([500, 503, 204]);
    const event = billingEvent('credits.auto_refill.succeeded', accountId, { amount: 10 });

    // Act
    await queueWebhookDeliveries(event);
    const first = await runDueWebhookDeliveries();
    const tooEarly = await runDueWebhookDeliveries();
    const pending = (await deliveries(token, id))[0];
    const failing = await call('GET', '/v1/webhook-endpoints', { token });
    advanceClock(RETRY_DELAYS_SECONDS[0] * 1000);
    const second = await runDueWebhookDeliveries();
    advanceClock(RETRY_DELAYS_SECONDS[1] * 1000);
    const third = await runDueWebhookDeliveries();
    const recovered = await call('GET', '/v1/webhook-endpoints', { token });

    // Assess
    expect([first, tooEarly, second, third]).toEqual([['retrying'], [], ['retrying'], ['succeeded']]);
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([
      event.event_id,
      event.event_id,
      event.event_id,
    ]);
    expect(new Set(receiver.requests.map((r) => r.body)).size).toBe(1);
    expect(JSON.parse(receiver.requests[0]!.body)).toEqual({
      type: 'credits.auto_refill.succeeded',
      timestamp: event.at,
      data: { event_id: event.event_id, account_id: accountId, amount: 10 },
    });
    expect(() =>
      new Webhook(secret).verify(
        receiver.requests[0]!.body,
        receiver.requests[0]!.headers as Record<string, string>,
      ),
    ).not.toThrow();
    expect(pending).toMatchObject({
      status: 'pending',
      attempts: 1,
      last_status_code: 500,
      next_attempt_at: expect.any(String),
    });
    expect(failing.body.data[0].failing_since).toEqual(expect.any(String));
    const [delivery] = await deliveries(token, id);
    expect(delivery).toMatchObject({
      id: event.event_id,
      status: 'succeeded',
      attempts: 3,
      last_status_code: 204,
    });
    expect(delivery).not.toHaveProperty('next_attempt_at');
    expect((delivery!.log as { status_code: number }[]).map((line) => line.status_code)).toEqual([
      500, 503, 204,
    ]);
    expect(recovered.body.data[0]).not.toHaveProperty('failing_since');
  });

  it('"send test event": 202, one webhook.test delivery to that endpoint only, signed for standardwebhooks', async () => {
    // Prepare
    const { token, id, secret } = await endpointFor(['credits.invoice.paid']);
    const other = await call('POST', '/v1/webhook-endpoints', {
      token,
      body: { url: receiver.url, events: ['*'] },
    });

    // Act
    const response = await call('POST', `/v1/webhook-endpoints/${id}/test`, { token });
    await runDueWebhookDeliveries();

    // Assess
    expect(response.status).toBe(202);
    expect(response.body).toEqual({ id: expect.stringMatching(/^evt_/) });
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    const headers = request!.headers as Record<string, string>;
    expect(headers['webhook-id']).toBe(response.body.id);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(request!.body, headers)).toMatchObject({ type: 'webhook.test' });
    expect(() =>
      new Webhook(secret).verify(request!.body.replace('webhook.test', 'webhook.tost'), headers),
    ).toThrow();
    expect(() => new Webhook(other.body.secret).verify(request!.body, headers)).toThrow();
    expect((await deliveries(token, id))[0]).toMatchObject({
      event_type: 'webhook.test',
      status: 'succeeded',
    });
    expect(await deliveries(token, other.body.id)).toEqual([]);
  });

  it(`cuts a receiver that does not answer within ${DELIVERY_TIMEOUT_MS / 1000} s, and retries it`, async () => {
    // Prepare: the receiver answers after 15 s
    const { accountId, token, id } = await endpointFor();
    receiver.delayMs = DELIVERY_TIMEOUT_MS + 5_000;

    // Act
    await queueWebhookDeliveries(billingEvent('credits.balance.depleted', accountId, {}));
    const reports = await runDueWebhookDeliveries();

    // Assess
    expect(reports).toEqual(['retrying']);
    expect(receiver.requests).toHaveLength(1);
    const [delivery] = await deliveries(token, id);
    expect(delivery).toMatchObject({
      status: 'pending',
      attempts: 1,
      last_error: expect.stringMatching(/^timeout/),
      next_attempt_at: expect.any(String),
    });
    expect(delivery).not.toHaveProperty('last_status_code');
  });
});

describe('webhook endpoints: health', () => {
  it('gives up a delivery after the last retry (~27 h), disables the endpoint after 3 days of failures, once', async () => {
    // Prepare
    const { accountId, token, id } = await endpointFor();
    receiver.reset([500]);

    // Act: one event's every attempt fails
    await queueWebhookDeliveries(billingEvent('credits.granted', accountId, { amount: 1 }));
    await runDueWebhookDeliveries();
    for (const seconds of RETRY_DELAYS_SECONDS) {
      advanceClock(seconds * 1000);
      await runDueWebhookDeliveries();
    }
    const givenUp = (await deliveries(token, id))[0];
    const stillEnabled = (await call('GET', '/v1/webhook-endpoints', { token })).body.data[0];
    // ... and an event 3 days after the first failure fails too
    advanceClock(3 * 86_400_000);
    await queueWebhookDeliveries(billingEvent('credits.granted', accountId, { amount: 2 }));
    await queueWebhookDeliveries(billingEvent('credits.granted', accountId, { amount: 3 }));
    const lastReports = await runDueWebhookDeliveries();
    const disabled = (await call('GET', '/v1/webhook-endpoints', { token })).body.data[0];
    await queueWebhookDeliveries(billingEvent('credits.granted', accountId, { amount: 4 }));
    const afterDisabling = await runDueWebhookDeliveries();

    // Assess
    expect(givenUp).toMatchObject({ status: 'failed', attempts: RETRY_DELAYS_SECONDS.length + 1 });
    expect(stillEnabled.status).toBe('enabled');
    expect(lastReports.sort()).toEqual(['retrying', 'retrying']);
    expect(disabled).toMatchObject({ status: 'disabled', disabled_reason: 'failing for 3 days' });
    expect(afterDisabling).toEqual([]);
    expect(receiver.requests).toHaveLength(RETRY_DELAYS_SECONDS.length + 1 + 2);
    const events = await eventsOf(accountId, 'credits.webhook_endpoint.disabled');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      endpoint_id: id,
      url: receiver.url,
      failing_since: stillEnabled.failing_since,
    });
    // The pending retries of a disabled endpoint stop at their next turn, without a request.
    advanceClock(RETRY_DELAYS_SECONDS[0] * 1000);
    expect(await runDueWebhookDeliveries()).toEqual(['endpoint_unavailable', 'endpoint_unavailable']);
    expect(receiver.requests).toHaveLength(RETRY_DELAYS_SECONDS.length + 1 + 2);
  });

  it('PATCH {"enabled": true} re-enables a disabled endpoint with a fresh failure run; deliveries resume', async () => {
    // Prepare: disabled after 3 days of failures
    const { accountId, token, id } = await endpointFor();
    receiver.reset([500]);
    await queueWebhookDeliveries(billingEvent('credits.granted', accountId, { amount: 1 }));
    await runDueWebhookDeliveries();
    advanceClock(3 * 86_400_000);
    await queueWebhookDeliveries(billingEvent('credits.granted', accountId, { amount: 2 }));
    await runDueWebhookDeliveries();
    dropLocalWebhookMessages();
    receiver.reset([200]);

    // Act
    const disabled = (await call('GET', '/v1/webhook-endpoints', { token })).body.data[0];
    const enabled = await call('PATCH', `/v1/webhook-endpoints/${id}`, { token, body: { enabled: true } });
    await queueWebhookDeliveries(billingEvent('credits.granted', accountId, { amount: 3 }));
    const reports = await runDueWebhookDeliveries();
    const refused = await call('PATCH', `/v1/webhook-endpoints/${id}`, { token, body: { enabled: false } });

    // Assess
    expect(disabled.status).toBe('disabled');
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ id, status: 'enabled' });
    expect(enabled.body).not.toHaveProperty('disabled_reason');
    expect(enabled.body).not.toHaveProperty('failing_since');
    expect(reports).toEqual(['succeeded']);
    expect(receiver.requests).toHaveLength(1);
    expectContractError(refused, 400, 'invalid_request', { details: true });
  });
});
