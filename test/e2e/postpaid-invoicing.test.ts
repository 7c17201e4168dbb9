// Postpaid invoicing as an operator and a customer meet it on `npm start`: over HTTP against the local stack,
// with the real charge path, the local clock, the `postpaid-invoices` job (run twice) and the emulator's
// hosted invoice page; then the operator's overdue block (POSTPAID_OVERDUE_BLOCK_GRACE_DAYS).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetClock } from '#shared/clock.ts';
import { type LocalStack, startLocalStack } from '../../local/server.ts';
import { eventually } from '../support/eventually.ts';
import { stackClient } from '../support/http.ts';

const ADMIN = 'e2e-invoicing-admin';
let stack: LocalStack;

beforeAll(async () => {
  process.env.POSTPAID_OVERDUE_BLOCK_GRACE_DAYS = '2';
  stack = await startLocalStack({
    port: 0,
    adminApiKey: ADMIN,
    dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
    tableName: `e2e-invoicing-${randomUUID().slice(0, 8)}`,
    seedDemo: false,
    runJobs: false,
    quiet: true,
    stripe: { webhookRetryBaseMs: 50 },
  });
});

afterAll(async () => {
  delete process.env.POSTPAID_OVERDUE_BLOCK_GRACE_DAYS;
  resetClock();
  await stack?.stop();
});

const http = stackClient(() => stack.url, ADMIN);

const clock = (now: string) => http('POST', '/__local/clock', { admin: true, body: { now } });
const echo = (token: string) => http('POST', '/v1/demo/echo', { token, body: { text: 'hi' } });

describe('postpaid invoicing over HTTP', () => {
  it('invoices the closed month once with the exact amount, due in 30 days; an overdue invoice blocks until paid', async () => {
    await clock('2040-03-10T09:00:00Z');
    const { account_id, token } = (
      await http('POST', '/admin/accounts', { admin: true, body: { name: 'Invoiced team' } })
    ).body;
    const switched = await http('PUT', `/admin/accounts/${account_id}/billing`, {
      admin: true,
      body: { mode: 'postpaid', payment_terms_days: 30 },
    });
    expect(switched.status, JSON.stringify(switched.body)).toBe(200);
    for (let i = 0; i < 7; i++) expect((await echo(token)).status).toBe(200);
    const words = await http('POST', '/v1/demo/words', { token, body: { text: 'one two three' } });
    expect(words.status).toBe(200);
    expect(words.body.cost).toBe(0.0003);

    // The period item follows the ledger through the stream: the job runs once it caught up, as it does
    // 15 minutes after the month in the cloud.
    await stack.drainStream();
    await clock('2040-04-01T00:15:00Z');
    const first = await http('POST', '/__local/jobs/postpaid-invoices', { admin: true });
    const second = await http('POST', '/__local/jobs/postpaid-invoices', { admin: true });

    expect(first.body.result).toMatchObject({ due: 1, outcomes: { invoiced: 1 } });
    expect(second.body.result).toMatchObject({ due: 0 });
    const listed = await eventually(
      () => http('GET', '/v1/billing/invoices', { token }),
      (answer) => answer.body?.data?.length === 1,
    );
    const [invoice] = listed.body.data;
    expect(invoice).toMatchObject({
      period: '2040-03',
      // 7 × 0.002 + 3 words × 0.0001 = 0.0143: one cent now, 0.0043 carried to the next invoice.
      amount: 0.01,
      status: 'open',
    });
    // Due 30 days after issue (the job ran at 00:15 on April 1st; the local clock keeps ticking).
    const [finalized] = stack.stripe?.control.events('invoice.finalized') ?? [];
    const issued = finalized?.data.object as { id: string; created: number; due_date: number };
    expect(issued.id).toBe(invoice.id);
    expect(issued.due_date - issued.created).toBe(30 * 86_400);
    expect(invoice.due_date).toBe(new Date(issued.due_date * 1000).toISOString());
    expect(invoice.due_date.startsWith('2040-05-01T00:1')).toBe(true);
    expect(invoice.hosted_invoice_url).toMatch(/^http/);
    expect(stack.stripe?.control.events('invoice.sent')).toHaveLength(1);
    expect((await echo(token)).status).toBe(200);

    await clock('2040-05-03T00:16:00Z');
    const blocked = await echo(token);
    expect(blocked.status).toBe(402);
    expect(blocked.body).toEqual({
      error: 'Payment of an overdue invoice is required',
      code: 'invoice_overdue',
    });

    const paid = await fetch(invoice.hosted_invoice_url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'card_number=4242424242424242',
    });
    expect(await paid.json()).toEqual({ status: 'paid' });
    const unblocked = await eventually(
      () => echo(token),
      (answer) => answer.status === 200,
    );
    expect(unblocked.status).toBe(200);
    expect((await http('GET', '/v1/billing/invoices', { token })).body.data[0]).toMatchObject({
      status: 'paid',
    });
  });
});
