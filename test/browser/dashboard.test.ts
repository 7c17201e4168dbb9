// The billing dashboard in a real browser against the local stack (as `npm start` runs it): sign in with the
// demo token, buy $25 on the Stripe emulator's hosted page and watch the balance rise without a reload,
// enable auto-refill, read paid calls off the chart, export the ledger, read the price list, create and revoke
// a token.

import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../dashboard/build.ts';
import { type LocalStack, startLocalStack } from '../../local/server.ts';
import {
  type ConsoleProblem,
  type InPage,
  launchChromium,
  SCREENSHOTS,
  screenshot,
  signInWithToken,
  watchConsole,
} from './browser.ts';

let stack: LocalStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let problems: ConsoleProblem[];

let launchFailure: unknown;

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
    adminApiKey: 'browser-admin',
    dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
    tableName: `browser-${randomUUID().slice(0, 8)}`,
    seedDemo: true,
    runJobs: false,
    quiet: true,
    stripe: { fundingDelayMs: 300, webhookRetryBaseMs: 50 },
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  problems = watchConsole(page, stack.url);
});

beforeEach(() => {
  if (launchFailure) throw launchFailure;
});

afterEach(() => {
  // Emptied each time, so one test's console error is reported by that test alone.
  expect(problems?.splice(0) ?? [], 'console errors on the dashboard').toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const token = () => stack.demo!.token;

async function callApi(method: string, path: string, body?: unknown, bearer = token()) {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function openView(name: string, heading = name) {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

describe('billing dashboard in Chromium', () => {
  it('refuses an unknown token with a clear message', async () => {
    await page.goto(`${stack.url}/`);
    await screenshot(page, '01-sign-in');
    await signInWithToken(page, 'crd_not_a_real_token');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Your token was not accepted');
    expect(await page.evaluate(() => (globalThis as unknown as InPage).sessionStorage.length)).toBe(0);
    // Chromium logs every refused fetch as a console error; this 401 is the one this test provokes.
    expect(problems.every((problem) => /status of 401/.test(problem.text))).toBe(true);
    problems.length = 0;
  });

  it('signs in with the demo token (session storage only) and loads light', async () => {
    await signInWithToken(page, token());
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(await page.locator('#balance').textContent()).toBe('$10.00');
    expect(
      await page.evaluate(() => Object.values((globalThis as unknown as InPage).sessionStorage)),
    ).toEqual([token()]);
    expect(
      await page.evaluate(() => {
        const w = globalThis as unknown as InPage;
        return w.localStorage.length + w.document.cookie.length;
      }),
    ).toBe(0);

    // What a first visit transfers: the document and its assets (compressed), not the API calls.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const load = await page.evaluate(() => {
      const { performance } = globalThis as unknown as InPage;
      const navigation = performance.getEntriesByType('navigation')[0]!;
      const assets = performance
        .getEntriesByType('resource')
        .filter((entry) => new URL(entry.name).pathname.startsWith('/assets/'));
      return {
        files: [navigation, ...assets].map((entry) => ({
          path: new URL(entry.name).pathname,
          transferred: entry.transferSize,
          encoded: entry.encodedBodySize,
          decoded: entry.decodedBodySize,
        })),
        domContentLoadedMs: Math.round(navigation.domContentLoadedEventEnd),
      };
    });
    const encoded = load.files.reduce((sum, file) => sum + file.encoded, 0);
    const decoded = load.files.reduce((sum, file) => sum + file.decoded, 0);
    mkdirSync(SCREENSHOTS, { recursive: true });
    writeFileSync(
      new URL('../../test-output/dashboard-load.json', import.meta.url),
      `${JSON.stringify({ ...load, encoded_bytes: encoded, decoded_bytes: decoded }, null, 2)}\n`,
    );
    // The page, its stylesheet, the entry script and the chunks it imports; other views load when opened.
    const initialAssets = buildDashboard()
      .filter((file) => file.initial && file.path.startsWith('/assets/'))
      .map((file) => file.path);
    expect(load.files[0]?.path).toBe('/');
    expect(
      load.files
        .slice(1)
        .map((file) => file.path)
        .sort(),
    ).toEqual(initialAssets.sort());
    expect(encoded).toBeLessThan(25_000);
    await screenshot(page, '02-overview');
  });

  it('buys $25 on the hosted checkout page and shows the new balance without a manual reload', async () => {
    await openView('Buy credits');
    await page.getByLabel('$25.00').check();
    await screenshot(page, '03-buy-credits');
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.waitForURL((url) => url.href.startsWith(stack.stripe!.url));
    await page.getByLabel('Card number').fill('4242424242424242');
    await screenshot(page, '04-checkout-page');
    await page.getByRole('button', { name: 'Pay $25.00' }).click();

    // Stripe's redirect lands on the dashboard, which follows the purchase until it is paid.
    await page.waitForURL((url) => url.href.startsWith(stack.url) && url.hash === '#buy');
    const outcome = page.locator('#purchase-outcome');
    await outcome.waitFor({ timeout: 15_000 });
    expect(await outcome.textContent()).toBe('Payment received: $25.00 added. Your balance is now $35.00.');
    expect(await page.locator('#balance-chip').textContent()).toBe('Balance $35.00');
    expect(new URL(page.url()).search).toBe('');
    const history = page.getByRole('table', { name: 'Purchases, newest first' });
    await expect.poll(() => history.getByRole('row').count()).toBe(2);
    // The view reads the history as it opens and again once the purchase is paid; the newest read is drawn.
    await expect.poll(() => history.getByRole('row').nth(1).textContent()).toContain('Paid');
    // Stripe's receipt and invoice of the purchase, linked from its row and served by the emulator.
    const row = history.getByRole('row').nth(1);
    for (const name of ['Receipt', 'Invoice']) {
      const link = row.getByRole('link', { name: new RegExp(`^${name} of the \\$25\\.00 purchase`) });
      const href = await link.getAttribute('href');
      expect(href?.startsWith(stack.stripe!.url)).toBe(true);
      expect((await fetch(href!)).status).toBe(200);
    }
    await screenshot(page, '05-purchase-paid');
  });

  it('rejects a custom amount outside 5..10000 or with more than two decimals, next to the field', async () => {
    const custom = page.getByLabel('Or another amount (USD)');
    for (const [typed, problem] of [
      ['4.99', 'from $5.00 to $10,000.00'],
      ['12.345', 'at most two decimals'],
      ['10000.01', 'from $5.00 to $10,000.00'],
    ] as const) {
      await custom.fill(typed);
      await page.getByRole('button', { name: 'Continue to payment' }).click();
      expect(await page.locator('#custom-amount-problem').textContent()).toContain(problem);
      expect(await custom.getAttribute('aria-invalid')).toBe('true');
    }
    await custom.fill('');
  });

  it('enables auto-refill with the card saved by the purchase', async () => {
    await openView('Auto-refill');
    expect(await page.getByText('Payment method on file:').textContent()).toContain('Visa ending in 4242');
    await page.getByLabel('Refill automatically').check();
    await page.getByLabel('When the available balance falls below (USD)').fill('5');
    await page.getByLabel('Add this amount (USD)').fill('25');
    await page.getByLabel('Monthly cap (USD, optional)').fill('100');
    await page.getByRole('button', { name: 'Save auto-refill' }).click();
    await expect
      .poll(() => page.locator('#refill-summary').textContent())
      .toBe(
        'Auto-refill is on: when your available balance falls below $5.00, $25.00 is charged to Visa ending in 4242, up to $100.00 a month.',
      );
    const saved = await callApi('GET', '/v1/billing/auto-refill');
    expect(saved.body).toMatchObject({
      enabled: true,
      threshold: 5,
      amount: 25,
      monthly_cap: 100,
      status: 'active',
    });
    await screenshot(page, '06-auto-refill');
  });

  it('draws paid calls in the 30-day chart, split by feature, with today’s requests', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await callApi('POST', '/v1/demo/echo', { text: `call ${i}` })).status).toBe(200);
    }
    for (let i = 0; i < 2; i++) {
      expect((await callApi('POST', '/v1/demo/words', { text: 'one two three' })).status).toBe(200);
    }
    // The chart reads the usage rollups, which follow the ledger through the table's stream by a poll.
    await stack.drainStream();
    await openView('Overview');
    const chart = page.locator('svg#spend-chart');
    await chart.waitFor();
    const today = new Date().toISOString().slice(0, 10);
    const bar = chart.locator(`g[data-period="${today}"]`);
    expect(await bar.locator('rect[data-feature="echo"]').getAttribute('data-cost')).toBe('0.01');
    expect(await bar.locator('rect[data-feature="words"]').getAttribute('data-cost')).toBe('0.0006');
    expect(await bar.locator('rect[data-feature="echo"] title').textContent()).toContain('echo: $0.01');
    expect(await chart.locator('rect').count()).toBe(2);
    expect(await page.locator('#requests-today').textContent()).toBe('7');
    expect(await page.getByRole('list', { name: 'Features' }).textContent()).toMatch(/echo.*words/);
    await screenshot(page, '07-overview-chart');
  });

  it('shows usage by week and by feature', async () => {
    await openView('Usage');
    await page.getByLabel('Group by').selectOption('week');
    await page.getByLabel('Feature', { exact: true }).fill('echo');
    await page.getByRole('button', { name: 'Show usage' }).click();
    await expect.poll(() => page.locator('#usage-total').textContent()).toMatch(/^5 requests, \$0\.01 /);
    expect(await page.locator('svg#usage-chart rect[data-feature="words"]').count()).toBe(0);
    await screenshot(page, '08-usage');
  });

  it('pages through the ledger and exports it as CSV', async () => {
    await openView('Transactions');
    // The 7 charges as one row per feature (5 echo, 2 words); the $25 purchase and the demo grant on their own.
    const groups = page.getByRole('table', { name: 'Usage per day and feature' });
    await expect.poll(() => groups.locator('tr.usage-group').count()).toBe(2);
    expect(await groups.locator('tr.usage-group[data-feature="echo"] td').nth(2).textContent()).toBe('5');
    expect(await groups.locator('tr.usage-group[data-feature="words"] td').nth(2).textContent()).toBe('2');
    const others = page.getByRole('table', { name: 'Other entries, newest first' });
    expect(await others.locator('tbody tr').count()).toBe(2);
    expect(await others.locator('tbody tr').first().textContent()).toMatch(/Purchase · .*\+\$25\.00/);
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const file = await (await download).path();
    const lines = readFileSync(file, 'utf8').trim().split('\r\n');
    expect(lines[0]).toBe('id,created_at,type,amount,balance_after,feature,token_id,reference,request_id');
    expect(lines).toHaveLength(1 + 9);
    expect(lines.some((line) => line.includes(',-0.002,') && line.includes(',echo,'))).toBe(true);
    await screenshot(page, '09-transactions');
  });

  it('lists every catalog feature’s price in a table with headers, micro-prices to the last digit', async () => {
    const catalog = await callApi('GET', '/v1/prices');
    await openView('Prices');
    const table = page.getByRole('table', { name: 'Every feature’s price, in USD' });
    await table.waitFor();

    expect(await table.getByRole('columnheader').allTextContents()).toEqual([
      'Feature',
      'Pricing',
      'Price',
      'Most a call can use or cost',
    ]);
    const features = catalog.body.data.map((entry: { feature: string }) => entry.feature);
    expect(await table.getByRole('rowheader').allTextContents()).toEqual(features);
    const line = async (feature: string) =>
      await table
        .getByRole('row')
        .filter({ has: page.getByRole('rowheader', { name: feature }) })
        .getByRole('cell')
        .allTextContents();
    expect(await line('echo')).toEqual(['Per call', '$0.002 per call', '—']);
    expect(await line('words')).toEqual(['Per unit', '$0.0001 per word', 'No limit']);
    expect(await line('sample_complete')).toEqual(['Per unit', '$0.00002 per token', 'Up to 8,192 tokens']);
    expect(await line('completion')).toEqual(['Dynamic', 'Priced per call', 'Up to $0.50']);
    await screenshot(page, '09-prices');
  });

  it('creates a token shown once, then revokes it after confirming', async () => {
    await openView('Tokens');
    await page.getByLabel('Token name').fill('ci-server');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = page.getByLabel('Your new token');
    await secret.waitFor();
    const created = await secret.inputValue();
    expect(created).toMatch(/^crd_/);
    expect((await callApi('GET', '/v1/credits', undefined, created)).status).toBe(200);
    const row = page.getByRole('row').filter({ hasText: 'ci-server' });
    await row.waitFor();
    await screenshot(page, '10-token-created');

    await page.getByRole('button', { name: 'Revoke ci-server' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke “ci-server”?' });
    await dialog.waitFor();
    await screenshot(page, '11-token-revoke-confirm');
    await dialog.getByRole('button', { name: 'Revoke token' }).click();
    await row.waitFor({ state: 'detached' });
    expect((await callApi('GET', '/v1/credits', undefined, created)).status).toBe(401);
    expect((await callApi('GET', '/v1/credits')).status).toBe(200);
    await screenshot(page, '12-tokens');
  });

  it('labels every control, and keeps a phone-sized screen free of sideways scrolling', async () => {
    for (const view of [
      'Overview',
      'Buy credits',
      'Auto-refill',
      'Usage',
      'Transactions',
      'Tokens',
      'Notifications',
      'Prices',
    ]) {
      await openView(view);
      const unlabelled = await page.evaluate(() =>
        [...(globalThis as unknown as InPage).document.querySelectorAll('input, select, button')]
          .filter((element) => {
            const name = element.labels?.length
              ? element.labels[0]!.textContent
              : (element.getAttribute('aria-label') ?? element.textContent);
            return !name?.trim();
          })
          .map((control) => control.outerHTML),
      );
      expect(unlabelled, view).toEqual([]);
    }
    await page.setViewportSize({ width: 390, height: 844 });
    for (const view of ['Overview', 'Transactions', 'Tokens', 'Prices']) {
      await openView(view);
      expect(
        await page.evaluate(() => (globalThis as unknown as InPage).document.documentElement.scrollWidth),
        view,
      ).toBeLessThanOrEqual(390);
    }
    await openView('Overview');
    await screenshot(page, '13-overview-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('moves by keyboard: skip link, then the navigation, focus on the new heading', async () => {
    await page.goto(`${stack.url}/#overview`);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.keyboard.press('Tab');
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.textContent),
    ).toBe('Skip to content');
    // The local stack's banner (local/page.ts) comes next: its mailbox link, then the navigation.
    await page.keyboard.press('Tab');
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.textContent),
    ).toBe('Open the local mailbox');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.textContent),
    ).toBe('Buy credits');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Buy credits' }).waitFor();
    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.tagName))
      .toBe('H1');
  });

  it('gives a postpaid account its usage against the limit, a limit editor and invoices, and no buying', async () => {
    const admin = { 'x-admin-key': 'browser-admin', 'content-type': 'application/json' };
    const created = await fetch(`${stack.url}/admin/accounts`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: 'Postpaid customer' }),
    }).then((response) => response.json() as Promise<{ account_id: string; token: string }>);
    const switched = await fetch(`${stack.url}/admin/accounts/${created.account_id}/billing`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ mode: 'postpaid' }),
    });
    expect(switched.status).toBe(200);

    const postpaidContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const postpaid = await postpaidContext.newPage();
    const postpaidProblems = watchConsole(postpaid, stack.url);
    try {
      await postpaid.goto(`${stack.url}/`);
      await signInWithToken(postpaid, created.token);
      await postpaid.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      expect(await postpaid.locator('#period-usage').textContent()).toBe('$0.00');
      expect(await postpaid.locator('#spend-limit').textContent()).toBe('No limit');
      const nav = postpaid.getByRole('navigation', { name: 'Dashboard' });
      expect(await nav.getByRole('link', { name: 'Buy credits' }).count()).toBe(0);

      await nav.getByRole('link', { name: 'Limit and invoices' }).click();
      await postpaid.getByRole('heading', { level: 1, name: 'Spend limit and invoices' }).waitFor();
      await postpaid.getByLabel('Monthly spend limit (USD)').fill('50');
      await postpaid.getByRole('button', { name: 'Save limit' }).click();
      await expect
        .poll(() => postpaid.locator('#limit-state').textContent())
        .toBe('The spend limit is now $50.00 a month.');
      expect((await callApi('GET', '/v1/credits', undefined, created.token)).body.monthly_spend_limit).toBe(
        50,
      );
      await expect.poll(() => postpaid.getByText('No invoices yet').count()).toBe(1);
      await screenshot(postpaid, '14-postpaid-limit-and-invoices');

      await postpaid.getByRole('button', { name: 'Remove limit' }).click();
      await expect
        .poll(() => postpaid.locator('#limit-state').textContent())
        .toBe('The spend limit is removed.');
      expect(
        (await callApi('GET', '/v1/credits', undefined, created.token)).body.monthly_spend_limit,
      ).toBeNull();
      await nav.getByRole('link', { name: 'Overview' }).click();
      await postpaid.locator('#spend-limit').waitFor();
      await screenshot(postpaid, '15-postpaid-overview');
      expect(postpaidProblems).toEqual([]);
    } finally {
      await postpaidContext.close();
    }
  });

  it('explains refusals in plain words: no saved method (409), missing scope (403), no network', async () => {
    const admin = { 'x-admin-key': 'browser-admin', 'content-type': 'application/json' };
    const created = await fetch(`${stack.url}/admin/accounts`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: 'New customer' }),
    }).then((response) => response.json() as Promise<{ account_id: string; token: string }>);
    const apiOnly = await callApi(
      'POST',
      '/v1/tokens',
      { name: 'reporting', scopes: ['api'] },
      created.token,
    );
    const refusals = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const tab = await refusals.newPage();
    const tabProblems = watchConsole(tab, stack.url);
    const signIn = async (bearer: string) => {
      await tab.goto(`${stack.url}/`);
      await signInWithToken(tab, bearer);
      await tab.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    };
    const open = async (name: string) => {
      await tab.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name }).click();
      await tab.getByRole('heading', { level: 1, name }).waitFor();
    };
    try {
      await signIn(created.token);
      await open('Auto-refill');
      await tab.getByLabel('Refill automatically').check();
      await tab.getByRole('button', { name: 'Save auto-refill' }).click();
      await expect
        .poll(() => tab.getByRole('alert').textContent())
        .toContain('buy credits once by card or PayPal to save a method');
      await screenshot(tab, '16-auto-refill-no-payment-method');

      await tab.route('**/v1/transactions*', (route) => route.abort());
      await open('Transactions');
      await expect.poll(() => tab.getByRole('alert').textContent()).toContain('could not be reached');
      await tab.unroute('**/v1/transactions*');
      await tab.getByRole('button', { name: 'Try again' }).click();
      await expect.poll(() => tab.getByRole('alert').count()).toBe(0);

      await tab.getByRole('button', { name: 'Sign out' }).click();
      await signIn(apiOnly.body.token);
      await open('Tokens');
      await expect
        .poll(() => tab.getByRole('alert').textContent())
        .toContain('needs a token with the billing scope');
      await screenshot(tab, '17-tokens-forbidden');
      // Chromium logs each refused or aborted fetch; these are the ones this test provokes, and nothing else.
      expect(tabProblems.filter((problem) => !/status of (409|403)|ERR_FAILED/.test(problem.text))).toEqual(
        [],
      );
    } finally {
      await refusals.close();
    }
  });

  it('signs out and forgets the token', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Work email').waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as InPage).sessionStorage.length)).toBe(0);
    await page.reload();
    await page.getByLabel('Work email').waitFor();
  });
});
