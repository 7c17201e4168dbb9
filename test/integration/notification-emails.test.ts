// Notification emails (issue 16 item 2): every billing event recorded with its change reaches the notify
// worker, which emails each recipient who wants its family once per event — however often the event is
// delivered — through SES (here the real SDK against a stand-in on this machine) or the local mail catcher.
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { grantCredits } from '#shared/accounts/service.ts';
import { advanceClock, nowMs, resetClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { transactWrite } from '#shared/dynamo/transact.ts';
import { type BillingEvent, billingEvent, eventPut, updateWithEvents } from '#shared/events/outbox.ts';
import { recordSesFeedback } from '#shared/notifications/feedback.ts';
import { caughtMail, clearCaughtMail, setSesClient } from '#shared/notifications/mailer.ts';
import { handleNotificationMessages, notifyEvent } from '#shared/notifications/notify.ts';
import { EmailInProgressError, SENDING_LEASE_MS } from '#shared/notifications/send.ts';
import { fundedAccount, spend, tableItem } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { type FakeSes, startFakeSes } from '../support/fake-ses.ts';
import { deliverRecordedEvents } from '../support/stream.ts';

type Sink = {
  __localEvents?: BillingEvent[];
  __localNotify?: (events: BillingEvent[]) => Promise<void> | void;
};
const sink = globalThis as Sink;

const allOn = { low_balance: true, auto_refill: true, spend_limit: true, invoices: true, receipts: true };

async function withRecipients(token: string, recipients: string[], events: Partial<typeof allOn> = {}) {
  const response = await call('PUT', '/v1/notifications', {
    token,
    body: { recipients, low_balance_threshold: null, events: { ...allOn, ...events } },
  });
  expect(response.status).toBe(200);
}

/** Records `event` as a change would (its own transaction), then lets the stream deliver it. */
async function recordAndDeliver(event: BillingEvent): Promise<void> {
  const outcome = await transactWrite([eventPut(event)]);
  expect(outcome.committed).toBe(true);
  await deliverRecordedEvents();
}

function mailOf(accountId: string) {
  return caughtMail().filter((mail) => mail.account_id === accountId);
}

function invoiceIssued(accountId: string): BillingEvent {
  return billingEvent('credits.invoice.issued', accountId, {
    invoice_id: 'in_test_1',
    period: '2026-11',
    amount: 42.5,
    status: 'open',
    due_date: '2027-01-01T00:00:00.000Z',
    hosted_invoice_url: 'https://invoice.stripe.com/i/acct_test/in_test_1',
  });
}

let previousNotify: Sink['__localNotify'];

beforeAll(() => {
  // The notification queue's stand-in: the bus hands each delivered event to the worker, as the rule does.
  previousNotify = sink.__localNotify;
  sink.__localNotify = async (events) => {
    for (const event of events) await notifyEvent(event);
  };
});

afterAll(() => {
  sink.__localNotify = previousNotify;
});

beforeEach(() => clearCaughtMail());
afterEach(() => resetClock());

describe('notification emails from recorded events', () => {
  it('a token reaching its limit emails each recipient once, naming the token, even when the event is delivered again', async () => {
    // Prepare: a token with a $0.002 daily limit (one echo call); two recipients.
    const { accountId, token: billing } = await fundedAccount(1);
    await withRecipients(billing, ['finance@example.com', 'ops@example.com']);
    const created = await call('POST', '/v1/tokens', {
      token: billing,
      body: { name: 'nightly-batch', spend_limit: { amount: 0.002, reset: 'daily' } },
    });
    expect(created.status).toBe(201);
    const limited = created.body.token as string;
    expect((await call('POST', '/v1/demo/echo', { token: limited, body: { text: 'a' } })).status).toBe(200);
    expect((await call('POST', '/v1/demo/echo', { token: limited, body: { text: 'b' } })).status).toBe(402);

    // Act: the stream delivers the event; then the same event arrives twice more, once concurrently.
    await deliverRecordedEvents();
    const event = (sink.__localEvents ?? []).find(
      (candidate) => candidate.type === 'credits.token_limit.reached' && candidate.account_id === accountId,
    );
    expect(event).toBeDefined();
    await Promise.all([notifyEvent(event!), notifyEvent(event!)].map((p) => p.catch((e: unknown) => e)));
    await notifyEvent(event!);

    // Assess
    const mail = mailOf(accountId);
    expect(mail.map((m) => m.to[0]).sort()).toEqual(['finance@example.com', 'ops@example.com']);
    expect(mail[0]).toMatchObject({ event: 'credits.token_limit.reached', event_id: event!.event_id });
    expect(mail[0]!.subject).toContain('nightly-batch');
    expect(mail[0]!.text).toContain('$0.002');
    expect(await tableItem(keys.emailClaim(event!.event_id, 'ops@example.com'))).toMatchObject({
      status: 'sent',
    });
  });

  it('an invoice issued emails its amount, due date and link; a family turned off emails nothing', async () => {
    // Prepare
    const wants = await fundedAccount(0);
    const declines = await fundedAccount(0);
    await withRecipients(wants.token, ['ap@example.com']);
    await withRecipients(declines.token, ['ap@example.com'], { invoices: false });

    // Act
    await recordAndDeliver(invoiceIssued(wants.accountId));
    await recordAndDeliver(invoiceIssued(declines.accountId));

    // Assess
    const [mail] = mailOf(wants.accountId);
    expect(mail?.subject).toContain('$42.50');
    expect(mail?.text).toContain('https://invoice.stripe.com/i/acct_test/in_test_1');
    expect(mail?.html).toContain('href="https://invoice.stripe.com/i/acct_test/in_test_1"');
    expect(mailOf(declines.accountId)).toEqual([]);
  });

  it('an account without recipients is emailed nothing, and events that make no email send none', async () => {
    // Prepare
    const nobody = await fundedAccount(0);
    const someone = await fundedAccount(0);
    await withRecipients(someone.token, ['ops@example.com']);

    // Act
    await recordAndDeliver(invoiceIssued(nobody.accountId));
    await recordAndDeliver(
      billingEvent('credits.granted', someone.accountId, { amount: 5, reason: 'goodwill' }),
    );
    // Auto-refill's own low-balance notice is for the bus; the email is the alert threshold's.
    await recordAndDeliver(
      billingEvent('credits.balance.low', someone.accountId, {
        available: 1,
        threshold: 5,
        source: 'auto_refill',
      }),
    );

    // Assess
    expect(mailOf(nobody.accountId)).toEqual([]);
    expect(mailOf(someone.accountId)).toEqual([]);
  });

  it('nothing is sent for a change that did not commit', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0);
    await withRecipients(token, ['ops@example.com']);

    // Act: the change's condition fails, so its event is never recorded.
    const wrote = await updateWithEvents(
      {
        Key: keys.account(accountId),
        UpdateExpression: 'SET #n = :n',
        ConditionExpression: 'attribute_not_exists(PK)',
        ExpressionAttributeNames: { '#n': 'name' },
        ExpressionAttributeValues: { ':n': 'renamed' },
      },
      [invoiceIssued(accountId)],
    );
    await deliverRecordedEvents();

    // Assess
    expect(wrote).toBe(false);
    expect(mailOf(accountId)).toEqual([]);
  });
});

describe('the low-balance email', () => {
  /** Rollups check the balance and record the alert's event; the next pass delivers it to the worker. */
  async function settle() {
    await deliverRecordedEvents();
    await deliverRecordedEvents();
  }

  it('a balance crossing the alert threshold three times yields exactly three emails', async () => {
    // Prepare: $10, alert at $5.
    const { accountId, token } = await fundedAccount(10);
    const put = await call('PUT', '/v1/notifications', {
      token,
      body: { recipients: ['ops@example.com'], low_balance_threshold: 5, events: allOn },
    });
    expect(put.status).toBe(200);

    // Act: 10 → 4 (crossing) → 3 → +5 = 8 (re-armed) → 2 (crossing) → +10 = 12 → 4.5 (crossing) → 4
    for (const step of [-6, -1, 5, -6, 10, -7.5, -0.5]) {
      if (step < 0) await spend(accountId, -step);
      else await grantCredits({ accountId, amountUsd: step, reason: 'top-up' });
      await settle();
    }

    // Assess
    const mail = mailOf(accountId);
    expect(mail).toHaveLength(3);
    expect(mail.every((m) => m.event === 'credits.balance.low')).toBe(true);
    // Newest first: the balance each crossing found, under the $5.00 threshold.
    expect(mail.map((m) => m.subject)).toEqual(Array(3).fill('Your balance is below $5.00'));
    expect(mail.map((m) => /balance is (\$[\d.]+)/.exec(m.text)?.[1])).toEqual(['$4.50', '$2.00', '$4.00']);
  });
});

describe('notification emails through SES', () => {
  let ses: FakeSes;
  const previousFrom = process.env.NOTIFY_FROM;
  const previousSet = process.env.SES_CONFIGURATION_SET;

  beforeAll(async () => {
    ses = await startFakeSes();
    setSesClient(ses.client);
    process.env.NOTIFY_FROM = 'Example billing <billing@example.com>';
    process.env.SES_CONFIGURATION_SET = 'credits-billing-notifications';
  });

  afterAll(async () => {
    setSesClient(undefined);
    if (previousFrom === undefined) delete process.env.NOTIFY_FROM;
    else process.env.NOTIFY_FROM = previousFrom;
    if (previousSet === undefined) delete process.env.SES_CONFIGURATION_SET;
    else process.env.SES_CONFIGURATION_SET = previousSet;
    await ses.stop();
  });

  beforeEach(() => {
    ses.sent.length = 0;
  });

  it('sends from the configured sender through the configuration set, tagged with the account and event', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0);
    await withRecipients(token, ['ap@example.com']);
    const event = invoiceIssued(accountId);

    // Act
    await notifyEvent(event);

    // Assess
    expect(ses.sent).toHaveLength(1);
    expect(ses.sent[0]).toMatchObject({
      from: 'Example billing <billing@example.com>',
      to: ['ap@example.com'],
      configurationSet: 'credits-billing-notifications',
      tags: { account: accountId.replace(/[^A-Za-z0-9_-]/g, '_'), event: 'credits_invoice_issued' },
    });
    expect(ses.sent[0]!.text).toContain('$42.50');
  });

  it('throttled by SES, the delivery fails to be retried; the retry sends it once, and the status shows both', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0);
    await withRecipients(token, ['ap@example.com']);
    const event = invoiceIssued(accountId);
    ses.fail({ status: 429, type: 'TooManyRequestsException', message: 'Maximum sending rate exceeded.' });

    // Act
    const first = await notifyEvent(event).then(
      () => 'resolved',
      (error: unknown) => error,
    );
    const statusAfterFailure = (await call('GET', '/v1/notifications', { token })).body.status;
    await notifyEvent(event);
    await notifyEvent(event);
    const statusAfterRetry = (await call('GET', '/v1/notifications', { token })).body.status;

    // Assess
    expect(first).toBeInstanceOf(Error);
    expect(ses.sent).toHaveLength(1);
    expect(statusAfterFailure).toMatchObject({
      last_sent_at: null,
      last_failure: { recipient: 'ap@example.com', event_type: 'credits.invoice.issued', permanent: false },
    });
    expect(statusAfterRetry.last_sent_at).toEqual(expect.any(String));
  });

  it('a refusal SES will repeat (a rejected address) is recorded and not retried', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0);
    await withRecipients(token, ['bounced@example.com', 'ap@example.com']);
    const event = invoiceIssued(accountId);
    ses.fail({ status: 400, type: 'MessageRejected', message: 'Email address is on the suppression list' });

    // Act: the first recipient's send is refused for good; the second goes out.
    await notifyEvent(event);
    await notifyEvent(event);

    // Assess
    expect(ses.sent.map((mail) => mail.to[0])).toEqual(['ap@example.com']);
    expect(await tableItem(keys.emailClaim(event.event_id, 'bounced@example.com'))).toMatchObject({
      status: 'failed',
    });
    const status = (await call('GET', '/v1/notifications', { token })).body.status;
    expect(status.last_failure).toMatchObject({ recipient: 'bounced@example.com', permanent: true });
  });

  it('a send that died mid-way is taken over once its lease ran out, so the email is not lost', async () => {
    // Prepare: a claim left `sending` by an invocation that stopped.
    const { accountId, token } = await fundedAccount(0);
    await withRecipients(token, ['ap@example.com']);
    const event = invoiceIssued(accountId);
    await ddb().send(
      new PutCommand({
        TableName: process.env.TABLE_NAME,
        Item: {
          ...keys.emailClaim(event.event_id, 'ap@example.com'),
          status: 'sending',
          claimed_at: nowMs(),
        },
      }),
    );

    // Act
    const whileHeld = await notifyEvent(event).then(
      () => 'resolved',
      (error: unknown) => error,
    );
    advanceClock(SENDING_LEASE_MS + 1);
    await notifyEvent(event);

    // Assess
    expect(whileHeld).toBeInstanceOf(EmailInProgressError);
    expect(ses.sent).toHaveLength(1);
  });
});

describe('the notify worker on queue messages', () => {
  it('reads the EventBridge envelope, reports a failed event for redelivery, and drops what is not an event', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(0);
    await withRecipients(token, ['ops@example.com']);
    const event = invoiceIssued(accountId);
    const failing = invoiceIssued(accountId);
    // A claim held by a live send: this message must be retried.
    await ddb().send(
      new PutCommand({
        TableName: process.env.TABLE_NAME,
        Item: {
          ...keys.emailClaim(failing.event_id, 'ops@example.com'),
          status: 'sending',
          claimed_at: nowMs(),
        },
      }),
    );

    // Act
    const result = await handleNotificationMessages([
      { messageId: 'm1', body: JSON.stringify({ 'detail-type': event.type, detail: event }) },
      { messageId: 'm2', body: JSON.stringify({ 'detail-type': failing.type, detail: failing }) },
      { messageId: 'm3', body: '{"not":"an event"}' },
    ] as never);

    // Assess
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    expect(mailOf(accountId).map((mail) => mail.event_id)).toEqual([event.event_id]);
  });
});

describe('SES feedback', () => {
  it('a permanent bounce of a notification email is recorded on the account the email was tagged with', async () => {
    // Prepare: the event SES publishes to the default bus (the SES developer guide's Bounce record).
    const { accountId, token } = await fundedAccount(0);
    const detail = {
      eventType: 'Bounce',
      bounce: {
        bounceType: 'Permanent',
        bounceSubType: 'General',
        bouncedRecipients: [
          {
            emailAddress: 'gone@example.com',
            action: 'failed',
            status: '5.1.1',
            diagnosticCode: 'smtp; 550 5.1.1 user unknown',
          },
        ],
        timestamp: '2026-12-02T10:41:02.669Z',
        feedbackId: '01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000',
      },
      mail: {
        timestamp: '2026-12-02T10:40:02.012Z',
        source: 'billing@example.com',
        destination: ['gone@example.com'],
        tags: {
          'ses:configuration-set': ['credits-billing-notifications'],
          account: [accountId],
          event: ['credits_invoice_payment_failed'],
        },
      },
    };

    // Act
    const outcome = await recordSesFeedback(detail);
    const ignored = await recordSesFeedback({
      eventType: 'Delivery',
      mail: { tags: { account: [accountId] } },
    });

    // Assess
    expect([outcome, ignored]).toEqual(['recorded', 'ignored']);
    const status = (await call('GET', '/v1/notifications', { token })).body.status;
    expect(status.last_failure).toEqual({
      at: '2026-12-02T10:41:02.669Z',
      recipient: 'gone@example.com',
      event_type: 'credits.invoice.payment.failed',
      reason: 'bounced (Permanent, General): smtp; 550 5.1.1 user unknown',
      permanent: true,
    });
  });
});
