// The overview that warns (issue 17, slice C), in Chromium against the local stack: the balance under the
// alert threshold, the 7-day pace estimate and the auto-refill line from real reads; a token whose spend limit
// is spent and a postpaid month at its spend limit from real calls; feature colours that are the same in two
// accounts. States the local stack cannot reach in a test's time (auto-refill paused after three failed
// charges, an invoice past its due date) are served to the page by `page.route` with the API's own shapes.
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { featureColour } from '../../dashboard/src/colours.ts';
import { type LocalStack, startLocalStack } from '../../local/server.ts';
import { stackClient } from '../support/http.ts';
import {
  type ConsoleProblem,
  type InPage,
  launchChromium,
  screenshot,
  signInWithToken,
  watchConsole,
} from './browser.ts';

const ADMIN = 'browser-admin';

let stack: LocalStack;
let browser: Browser;
let context: BrowserContext | undefined;
let problems: ConsoleProblem[] = [];
let launchFailure: unknown;

beforeAll(async () => {
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
    tableName: `browser-ov-${randomUUID().slice(0, 8)}`,
    seedDemo: false,
    runJobs: false,
    quiet: true,
  });
});

beforeEach(() => {
  if (launchFailure) throw launchFailure;
});

afterEach(async () => {
  expect(problems.splice(0), 'console errors on the dashboard').toEqual([]);
  await context?.close();
  context = undefined;
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const http = stackClient(() => stack.url, ADMIN);
const echo = (token: string) => http('POST', '/v1/demo/echo', { token, body: { text: 'hi' } });
const words = (token: string) => http('POST', '/v1/demo/words', { token, body: { text: 'one two three' } });

async function newAccount(name: string, credits?: number): Promise<{ account_id: string; token: string }> {
  const created = await http('POST', '/admin/accounts', { admin: true, body: { name } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  if (credits !== undefined) {
    const granted = await http('POST', `/admin/accounts/${created.body.account_id}/credits`, {
      admin: true,
      body: { amount: credits, reason: 'browser test' },
    });
    expect(granted.status, JSON.stringify(granted.body)).toBe(201);
  }
  return created.body;
}

async function signedIn(token: string, width = 1280, height = 900): Promise<Page> {
  context = await browser.newContext({ viewport: { width, height } });
  const tab = await context.newPage();
  problems = watchConsole(tab, stack.url);
  await tab.goto(`${stack.url}/`);
  await signInWithToken(tab, token);
  await tab.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  return tab;
}

const noSidewaysScroll = (tab: Page) =>
  tab.evaluate(() => {
    const w = globalThis as unknown as InPage & { innerWidth: number };
    return w.document.documentElement.scrollWidth <= w.innerWidth;
  });

/** The stroke-free fill of a feature's rect in the overview chart's bar of `period`. */
const fillOf = (tab: Page, period: string, feature: string) =>
  tab
    .locator(`svg#spend-chart g[data-period="${period}"] rect[data-feature="${feature}"]`)
    .getAttribute('fill');

const today = () => new Date().toISOString().slice(0, 10);

describe('the overview warns', () => {
  it('under the alert threshold, with the 7-day pace and auto-refill in one line', async () => {
    const { token } = await newAccount('Pace', 10);
    const saved = await http('PUT', '/v1/notifications', {
      token,
      body: {
        recipients: [],
        low_balance_threshold: 20,
        events: { low_balance: true, auto_refill: true, spend_limit: true, invoices: true, receipts: true },
      },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    for (let i = 0; i < 5; i++) expect((await echo(token)).status).toBe(200);
    await stack.drainStream();

    const tab = await signedIn(token);
    const warning = tab.locator('#warn-low-balance');
    await warning.waitFor();
    expect(await warning.getAttribute('role')).toBe('status');
    expect(await warning.textContent()).toBe(
      'Your available balance of $9.99 is under your alert threshold of $20.00. Buy credits',
    );
    expect(await warning.getByRole('link', { name: 'Buy credits' }).getAttribute('href')).toBe('#buy');
    // $0.01 in the last 7 days: $0.01 / 7 a day, and $9.99 lasts 6,993 days at that pace.
    await expect
      .poll(() => tab.locator('#pace').textContent())
      .toMatch(
        /^At the last 7 days' pace \(about \$0\.01 a day\), your balance lasts about 6,99[23] days\.$/,
      );
    expect(await tab.locator('#refill-line').textContent()).toBe(
      'Auto-refill is off: your balance is only topped up when you buy credits.',
    );
    // No other warning: auto-refill is off, no token has a limit.
    expect(await tab.locator('#overview-warnings [role]').count()).toBe(1);
    await screenshot(tab, 'ov-01-alert-threshold-and-pace');
  });

  it('says nothing about pace without usage, and shows no warnings when none apply', async () => {
    const { token } = await newAccount('Quiet', 10);
    const tab = await signedIn(token);
    await tab.locator('svg#spend-chart').waitFor();
    await tab.locator('#refill-line').waitFor();
    expect(await tab.locator('#pace').isHidden()).toBe(true);
    expect(await tab.locator('#overview-warnings').isHidden()).toBe(true);
  });

  it('when auto-refill is paused, with the way to fix it (the top-up link when there is one)', async () => {
    const { token } = await newAccount('Paused', 2);
    const paused = (topUpUrl?: string) => ({
      enabled: true,
      status: 'suspended',
      threshold: 5,
      amount: 25,
      monthly_cap: null,
      payment_method: { type: 'card', brand: 'visa', last4: '4242' },
      suspended_reason: 'the card was declined three times',
      last_attempt: {
        at: new Date().toISOString(),
        amount: 25,
        outcome: topUpUrl ? 'authentication_required' : 'failed',
        ...(topUpUrl ? { top_up_url: topUpUrl } : {}),
      },
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const tab = await context.newPage();
    problems = watchConsole(tab, stack.url);
    let answer = paused();
    await tab.route(`${stack.url}/v1/billing/auto-refill`, (route) =>
      route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(answer) }),
    );
    await tab.goto(`${stack.url}/`);
    await signInWithToken(tab, token);
    const warning = tab.locator('#warn-refill-suspended');
    await warning.waitFor();
    expect(await warning.getAttribute('role')).toBe('alert');
    expect(await warning.textContent()).toBe(
      'Auto-refill is paused: the card was declined three times. Your balance is no longer topped up automatically. Fix auto-refill',
    );
    expect(await warning.getByRole('link', { name: 'Fix auto-refill' }).getAttribute('href')).toBe(
      '#auto-refill',
    );
    expect(await tab.locator('#refill-line').textContent()).toMatch(/^Auto-refill is paused: the card was/);
    await screenshot(tab, 'ov-02-auto-refill-paused');

    answer = paused('https://checkout.stripe.com/c/pay/cs_test_topup');
    await tab.reload();
    await tab.locator('#warn-refill-suspended').waitFor();
    expect(await tab.getByRole('link', { name: 'Confirm the payment and top up' }).getAttribute('href')).toBe(
      'https://checkout.stripe.com/c/pay/cs_test_topup',
    );
  });

  it('when the balance is under the auto-refill threshold', async () => {
    const { token } = await newAccount('Refilling', 3);
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const tab = await context.newPage();
    problems = watchConsole(tab, stack.url);
    await tab.route(`${stack.url}/v1/billing/auto-refill`, (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({
          enabled: true,
          status: 'active',
          threshold: 5,
          amount: 25,
          monthly_cap: null,
          payment_method: { type: 'card', brand: 'visa', last4: '4242' },
          last_attempt: null,
        }),
      }),
    );
    await tab.goto(`${stack.url}/`);
    await signInWithToken(tab, token);
    const warning = tab.locator('#warn-refill-threshold');
    await warning.waitFor();
    expect(await warning.getAttribute('role')).toBe('status');
    expect(await warning.textContent()).toBe(
      'Your available balance of $3.00 is under the auto-refill threshold of $5.00: a refill of $25.00 is on its way. See auto-refill',
    );
    expect(await tab.locator('#refill-line').textContent()).toMatch(
      /^Auto-refill is on: when your available/,
    );
  });

  it('when a token has spent its limit (a real call refused next)', async () => {
    const { token } = await newAccount('Token limit', 10);
    const minted = await http('POST', '/v1/tokens', {
      token,
      body: { name: 'batch job', scopes: ['api'], spend_limit: { amount: 0.002, reset: 'monthly' } },
    });
    expect(minted.status, JSON.stringify(minted.body)).toBe(201);
    expect((await echo(minted.body.token)).status).toBe(200);
    expect((await echo(minted.body.token)).status).toBe(402);

    const tab = await signedIn(token);
    const warning = tab.locator(`#warn-token-${minted.body.id}`);
    await warning.waitFor();
    expect(await warning.getAttribute('role')).toBe('alert');
    expect(await warning.textContent()).toBe(
      'The token "batch job" has spent its limit of $0.002: calls with it are refused (402, token_limit_reached) until its monthly period ends. Change its limit',
    );
    await screenshot(tab, 'ov-03-token-limit');
  });

  it('when a postpaid month reaches its spend limit, and when an invoice is overdue', async () => {
    const { account_id, token } = await newAccount('Postpaid limit');
    const switched = await http('PUT', `/admin/accounts/${account_id}/billing`, {
      admin: true,
      body: { mode: 'postpaid', payment_terms_days: 30 },
    });
    expect(switched.status, JSON.stringify(switched.body)).toBe(200);
    const limited = await http('PUT', '/v1/billing/spend-limit', {
      token,
      body: { monthly_spend_limit: 0.002 },
    });
    expect(limited.status, JSON.stringify(limited.body)).toBe(200);
    expect((await echo(token)).status).toBe(200);
    expect((await echo(token)).status).toBe(402);

    context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const tab = await context.newPage();
    problems = watchConsole(tab, stack.url);
    await tab.route(`${stack.url}/v1/billing/invoices`, (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({
          data: [
            {
              id: 'in_overdue',
              period: '2026-10',
              amount: 12.5,
              currency: 'USD',
              status: 'open',
              due_date: '2026-11-30',
              hosted_invoice_url: 'https://invoice.stripe.com/i/in_overdue',
              overdue: true,
            },
          ],
        }),
      }),
    );
    await tab.goto(`${stack.url}/`);
    await signInWithToken(tab, token);
    const limit = tab.locator('#warn-spend-limit');
    await limit.waitFor();
    expect(await limit.getAttribute('role')).toBe('alert');
    expect(await limit.textContent()).toMatch(/^Your monthly spend limit is reached: API calls are refused/);
    const invoice = tab.locator('#warn-invoice-in_overdue');
    await invoice.waitFor();
    expect(await invoice.textContent()).toBe(
      'The 2026-10 invoice of $12.50 is overdue (due Nov 30, 2026): API calls may be refused (invoice_overdue) until it is paid. Pay the 2026-10 invoice',
    );
    expect(await tab.getByRole('link', { name: 'Pay the 2026-10 invoice' }).getAttribute('href')).toBe(
      'https://invoice.stripe.com/i/in_overdue',
    );
    // Postpaid: no balance to run out of, so no pace estimate.
    await tab.locator('svg#spend-chart').waitFor();
    expect(await tab.locator('#pace').count()).toBe(0);
    expect(await noSidewaysScroll(tab)).toBe(true);
    await screenshot(tab, 'ov-04-postpaid-limit-and-overdue-phone');
  });

  it('draws a feature in the same colour in every account', async () => {
    const first = await newAccount('Colours one', 5);
    const second = await newAccount('Colours two', 5);
    // Different spend orders: the first account spends most on echo, the second most on words.
    for (let i = 0; i < 3; i++) expect((await echo(first.token)).status).toBe(200);
    expect((await words(first.token)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await words(second.token)).status).toBe(200);
    expect((await echo(second.token)).status).toBe(200);
    await stack.drainStream();

    const colours = async (token: string) => {
      const tab = await signedIn(token);
      await tab.locator('svg#spend-chart').waitFor();
      const found = { echo: await fillOf(tab, today(), 'echo'), words: await fillOf(tab, today(), 'words') };
      await context?.close();
      context = undefined;
      return found;
    };
    const one = await colours(first.token);
    const two = await colours(second.token);
    expect(one).toEqual({ echo: featureColour('echo'), words: featureColour('words') });
    expect(two).toEqual(one);
    expect(one.echo).not.toBe(one.words);
  });
});
