// The dashboard for the other billing modes, in Chromium against the local stack: a postpaid account with a
// real invoice (local clock, the `postpaid-invoices` job, paid on the Stripe emulator's hosted invoice page),
// an AWS Marketplace buyer signed in with the token its registration showed, and usage filtered by token.
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetClock } from '#shared/clock.ts';
import { type LocalStack, startLocalStack } from '../../local/server.ts';
import { stackClient } from '../support/http.ts';
import { type ConsoleProblem, launchChromium, screenshot, signInWithToken, watchConsole } from './browser.ts';

const ADMIN = 'billing-modes-admin';

let stack: LocalStack;
let browser: Browser;
let launchFailure: unknown;

/** The tab a test drives, its console problems, and the context to close after it. */
let context: BrowserContext | undefined;
let problems: ConsoleProblem[] = [];

beforeAll(async () => {
  // Chromium first. Without it every test fails (never skips) with the install hint, from beforeEach.
  try {
    browser = await launchChromium();
  } catch (error) {
    launchFailure = error;
    return;
  }
  stack = await startLocalStack({
    port: 0,
    adminApiKey: ADMIN,
    dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
    tableName: `browser-modes-${randomUUID().slice(0, 8)}`,
    seedDemo: false,
    runJobs: false,
    quiet: true,
    stripe: { fundingDelayMs: 300, webhookRetryBaseMs: 50 },
  });
});

beforeEach(() => {
  if (launchFailure) throw launchFailure;
});

afterEach(async () => {
  // Time moved by a test goes back before the next one (and before the next file, which has its own stack).
  if (stack) expect((await http('DELETE', '/__local/clock', { admin: true })).status).toBe(200);
  await context?.close();
  context = undefined;
  // Emptied each time, so one test's console error is reported by that test alone.
  expect(problems.splice(0), 'console errors on the dashboard').toEqual([]);
});

afterAll(async () => {
  resetClock();
  await browser?.close();
  await stack?.stop();
});

const http = stackClient(() => stack.url, ADMIN);

const clock = async (now: string) =>
  expect((await http('POST', '/__local/clock', { admin: true, body: { now } })).status).toBe(200);
const echo = (token: string, text = 'hi') => http('POST', '/v1/demo/echo', { token, body: { text } });
const words = (token: string) => http('POST', '/v1/demo/words', { token, body: { text: 'one two three' } });

async function newAccount(name: string): Promise<{ account_id: string; token: string }> {
  const created = await http('POST', '/admin/accounts', { admin: true, body: { name } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body;
}

async function newTab(): Promise<Page> {
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const tab = await context.newPage();
  problems = watchConsole(tab, stack.url);
  return tab;
}

async function signIn(tab: Page, token: string): Promise<void> {
  await tab.goto(`${stack.url}/`);
  await signInWithToken(tab, token);
  await tab.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
}

async function open(tab: Page, link: string, heading = link): Promise<void> {
  await tab.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: link }).click();
  await tab.getByRole('heading', { level: 1, name: heading }).waitFor();
}

const navLinks = (tab: Page) =>
  tab.getByRole('navigation', { name: 'Dashboard' }).getByRole('link').allTextContents();

describe('billing modes in the dashboard (Chromium)', () => {
  it('shows a postpaid month against its limit, then its real invoice, due and then paid on the hosted page', async () => {
    await clock('2040-03-10T09:00:00Z');
    const { account_id, token } = await newAccount('Postpaid with invoices');
    const switched = await http('PUT', `/admin/accounts/${account_id}/billing`, {
      admin: true,
      body: { mode: 'postpaid', payment_terms_days: 30 },
    });
    expect(switched.status, JSON.stringify(switched.body)).toBe(200);

    const tab = await newTab();
    await signIn(tab, token);
    expect(await tab.locator('#balance-chip').textContent()).toBe('This month $0.00');
    await open(tab, 'Limit and invoices', 'Spend limit and invoices');
    await tab.getByLabel('Monthly spend limit (USD)').fill('0.05');
    await tab.getByRole('button', { name: 'Save limit' }).click();
    await expect
      .poll(() => tab.locator('#limit-state').textContent())
      .toBe('The spend limit is now $0.05 a month.');

    // Five paid calls: $0.01 of the $0.05 limit.
    for (let i = 0; i < 5; i++) expect((await echo(token, `call ${i}`)).status).toBe(200);
    // The chart reads the usage rollups, which follow the ledger through the table's stream by a poll.
    await stack.drainStream();
    await open(tab, 'Overview');
    expect(await tab.locator('#period-usage').textContent()).toBe('$0.01');
    expect(await tab.getByText('Used in 2040-03').count()).toBe(1);
    expect(await tab.locator('#spend-limit').textContent()).toBe('$0.05');
    expect(await tab.getByText('20% of the limit used').count()).toBe(1);
    expect(await tab.locator('meter#limit-meter').getAttribute('value')).toBe('0.01');
    expect(await tab.locator('#balance-chip').textContent()).toBe('This month $0.01');
    const bar = tab.locator('svg#spend-chart g[data-period="2040-03-10"]');
    await bar.waitFor();
    expect(await bar.locator('rect[data-feature="echo"]').getAttribute('data-cost')).toBe('0.01');
    expect(await tab.locator('#requests-today').textContent()).toBe('5');
    await screenshot(tab, '18-postpaid-usage-against-limit');

    // The month closes; the invoice job runs as its schedule would, a quarter of an hour into April.
    await clock('2040-04-01T00:15:00Z');
    const job = await http('POST', '/__local/jobs/postpaid-invoices', { admin: true });
    expect(job.status, JSON.stringify(job.body)).toBe(200);
    expect(job.body.result).toMatchObject({ due: 1, outcomes: { invoiced: 1 } });

    await open(tab, 'Limit and invoices', 'Spend limit and invoices');
    const invoices = tab.getByRole('table', { name: 'Invoices, newest first' });
    const row = invoices.getByRole('row').filter({ hasText: '2040-03' });
    await row.waitFor();
    expect(await invoices.getByRole('row').count()).toBe(1 + 1);
    const cells = await row.getByRole('cell').allTextContents();
    // Period, amount, state, due date (30 days after the April 1st issue), and the link to pay it.
    expect(cells).toEqual(['2040-03', '$0.01', 'Due', 'May 1, 2040', 'View or pay the 2040-03 invoice']);
    expect(await tab.locator('#limit-state').textContent()).toBe(
      "Calls are refused (402) once this month's usage reaches $0.05.",
    );
    await screenshot(tab, '19-postpaid-invoice-due');
    await open(tab, 'Overview');
    expect(await tab.getByText('Used in 2040-04').count()).toBe(1);
    expect(await tab.locator('#period-usage').textContent()).toBe('$0.00');

    // Paid by the customer on the emulator's hosted invoice page, reached from the dashboard's link.
    await open(tab, 'Limit and invoices', 'Spend limit and invoices');
    // Stripe's invoice page opens in a new tab: the dashboard stays on the view the payment started from.
    const [invoiceTab] = await Promise.all([
      tab.context().waitForEvent('page'),
      tab.getByRole('link', { name: 'View or pay the 2040-03 invoice' }).click(),
    ]);
    await invoiceTab.waitForURL((url) => url.href.startsWith(stack.stripe!.url));
    await invoiceTab.getByLabel('Card number').fill('4242424242424242');
    await invoiceTab.getByRole('button', { name: 'Pay $0.01' }).click();
    await invoiceTab.getByRole('status').filter({ hasText: 'This invoice is paid.' }).waitFor();
    await screenshot(invoiceTab, '20-hosted-invoice-paid');
    await invoiceTab.close();

    expect(new URL(tab.url()).hash).toBe('#postpaid');
    await tab.getByRole('heading', { level: 1, name: 'Spend limit and invoices' }).waitFor();
    // The payment reaches the billing service by webhook: the view shows it once refreshed after that.
    await expect
      .poll(
        async () => {
          await tab.reload();
          await row.waitFor();
          return row.getByRole('cell').nth(2).textContent();
        },
        { timeout: 15_000, interval: 250 },
      )
      .toBe('Paid');
    expect(await row.getByRole('cell').allTextContents()).toEqual([
      '2040-03',
      '$0.01',
      'Paid',
      'May 1, 2040',
      'View the 2040-03 invoice',
    ]);
    await screenshot(tab, '21-postpaid-invoice-paid');
  });

  it('signs in an AWS Marketplace buyer with the token its registration showed: billed through AWS, usage still drawn', async () => {
    const minted = await http('POST', '/__marketplace/customers', { body: {} });
    expect(minted.status).toBe(201);
    const tab = await newTab();
    // AWS Marketplace sends the buyer's browser here with a form POST carrying the registration token.
    await tab.setContent(
      `<form method="post" action="${stack.url}/marketplace/register">
        <input type="hidden" name="x-amzn-marketplace-token" value="${minted.body.registration_token}">
        <button type="submit">Set up your account</button>
      </form>`,
    );
    await tab.getByRole('button', { name: 'Set up your account' }).click();
    await tab.getByRole('heading', { level: 1, name: 'AWS Marketplace registration complete' }).waitFor();
    const token = (await tab.locator('code').first().textContent()) ?? '';
    expect(token).toMatch(/^crd_[A-Za-z0-9_-]{43}$/);
    await screenshot(tab, '22-marketplace-registered');

    // The page leads to the dashboard's sign-in (issue 17: it showed the token and nothing else).
    await tab.getByRole('link', { name: 'Open the billing dashboard' }).click();
    await tab.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    expect(new URL(tab.url()).origin).toBe(new URL(stack.url).origin);
    await signInWithToken(tab, token);
    await tab.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(await tab.locator('#balance-chip').textContent()).toBe('Billed through AWS');
    const billing = tab.getByRole('region', { name: 'Billing' });
    expect(await billing.textContent()).toContain(
      'Your usage is billed through AWS: it appears on your AWS bill under your AWS Marketplace subscription.',
    );
    expect(await billing.textContent()).toContain('There are no credits to buy here.');
    expect(await tab.locator('#balance').count()).toBe(0);
    expect(await tab.getByRole('link', { name: /buy credits|auto-refill/i }).count()).toBe(0);
    expect(await navLinks(tab)).toEqual([
      'Overview',
      'Usage',
      'Transactions',
      'Tokens',
      'Notifications',
      'Webhooks',
      'Members',
      'Audit',
      'Prices',
    ]);
    // Typed addresses of the prepaid pages land on the overview, not on a form the buyer cannot use.
    for (const hash of ['#buy', '#auto-refill', '#postpaid']) {
      await tab.goto(`${stack.url}/${hash}`);
      await tab.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      expect(await tab.getByRole('button', { name: 'Continue to payment' }).count()).toBe(0);
    }

    for (let i = 0; i < 4; i++) expect((await echo(token, `call ${i}`)).status).toBe(200);
    expect((await words(token)).status).toBe(200);
    expect((await http('GET', '/v1/credits', { token })).body).toMatchObject({
      billing_mode: 'marketplace',
      balance: 0,
    });
    // The chart reads the usage rollups, which follow the ledger through the table's stream by a poll.
    await stack.drainStream();
    await tab.reload();
    const chart = tab.locator('svg#spend-chart');
    await chart.waitFor();
    const today = new Date().toISOString().slice(0, 10);
    const bar = chart.locator(`g[data-period="${today}"]`);
    expect(await bar.locator('rect[data-feature="echo"]').getAttribute('data-cost')).toBe('0.008');
    expect(await bar.locator('rect[data-feature="words"]').getAttribute('data-cost')).toBe('0.0003');
    expect(await tab.locator('#requests-today').textContent()).toBe('5');
    expect(await tab.locator('#spent-today').textContent()).toBe('$0.0083');
    await screenshot(tab, '23-marketplace-overview');

    await open(tab, 'Usage');
    await expect.poll(() => tab.locator('#usage-total').textContent()).toMatch(/^5 requests, \$0\.0083 /);
    expect(await tab.locator('svg#usage-chart rect[data-feature="words"]').count()).toBe(1);
    await screenshot(tab, '24-marketplace-usage');
  });

  it('filters usage by token: only the chosen token’s calls are counted and drawn', async () => {
    const { account_id, token } = await newAccount('Two services');
    const granted = await http('POST', `/admin/accounts/${account_id}/credits`, {
      admin: true,
      body: { amount: 5, reason: 'browser test' },
    });
    expect(granted.status, JSON.stringify(granted.body)).toBe(201);
    const mint = async (name: string) => {
      const created = await http('POST', '/v1/tokens', { token, body: { name, scopes: ['api'] } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return created.body as { id: string; token: string };
    };
    const batch = await mint('batch-jobs');
    const web = await mint('web-app');
    for (let i = 0; i < 3; i++) expect((await echo(batch.token, `batch ${i}`)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await words(web.token)).status).toBe(200);
    expect((await echo(web.token, 'web')).status).toBe(200);
    // The billing token's own call belongs to neither.
    expect((await echo(token, 'owner')).status).toBe(200);

    const today = new Date().toISOString().slice(0, 10);
    // Usage follows the ledger through the stack's stream poller: it counts the calls moments later.
    const requestsToday = async () =>
      (await http('GET', `/v1/usage?step=day&begin=${today}&end=${today}`, { token })).body.data[0].requests;
    await expect.poll(requestsToday, { timeout: 10_000 }).toBe(7);
    const viaApi = async () =>
      (await http('GET', `/v1/usage?step=day&begin=${today}&end=${today}&token_id=${batch.id}`, { token }))
        .body.data;
    await expect
      .poll(viaApi, { timeout: 10_000 })
      .toEqual([{ period_start: today, cost: 0.006, requests: 3, by_feature: { echo: 0.006 } }]);

    const tab = await newTab();
    await signIn(tab, token);
    await open(tab, 'Usage');
    await expect.poll(() => tab.locator('#usage-total').textContent()).toMatch(/^7 requests, \$0\.0106 /);
    const total = tab.locator('#usage-total');
    const show = async (tokenId: string) => {
      const before = await total.textContent();
      await tab.getByLabel('Token', { exact: true }).selectOption(tokenId);
      await tab.getByRole('button', { name: 'Show usage' }).click();
      await expect.poll(() => total.textContent()).not.toBe(before);
    };

    await show(batch.id);
    expect(await total.textContent()).toMatch(/^3 requests, \$0\.006 from .* for the token batch-jobs\.$/);
    const chart = tab.locator('svg#usage-chart');
    expect(await chart.locator('rect').count()).toBe(1);
    expect(
      await chart.locator(`g[data-period="${today}"] rect[data-feature="echo"]`).getAttribute('data-cost'),
    ).toBe('0.006');
    expect(await chart.locator('title').first().textContent()).toBe('Spend by day, token batch-jobs');
    await screenshot(tab, '25-usage-by-token');

    await show(web.id);
    expect(await total.textContent()).toMatch(/^3 requests, \$0\.0026 from .* for the token web-app\.$/);
    expect(
      await chart.locator(`g[data-period="${today}"] rect[data-feature="words"]`).getAttribute('data-cost'),
    ).toBe('0.0006');
    expect(
      await chart.locator(`g[data-period="${today}"] rect[data-feature="echo"]`).getAttribute('data-cost'),
    ).toBe('0.002');

    await show('');
    expect(await total.textContent()).toMatch(/^7 requests, \$0\.0106 from [^(]*\(UTC\)\.$/);
  });
});
