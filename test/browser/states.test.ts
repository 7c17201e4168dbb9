// Issue 17, item 1's last piece: the empty, loading, error and success states of the views whose tests did not
// pin them yet (Buy, Auto-refill, Limit and invoices, Prices, Tokens' list; the loading state of Overview,
// Usage, Transactions, Notifications and Webhooks, and the read errors of Overview, Usage and Notifications),
// each with a screenshot under test-output/screenshots/ (`states-<view>-<state>`), and axe-core at 1280 × 900
// (and at 390 × 844, with no sideways scrolling, for the empty and error states): 0 violations. Loading is
// seen by holding the view's request in page.route() until the placeholder is checked; a failing read is a
// 503 answered by page.route(); refusals are the API's own (a 400 under a lowered CHECKOUT_MAX_USD, 409s after
// the account changes billing mode, a 409 without a saved card). Each provoked failed request's console error
// is removed by its status and URL only, so any other console error still fails the test. Last, signing out
// while the overview still loads leaves the sign-in form alone.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/server.ts';
import { stackClient } from '../support/http.ts';
import { axeViolations } from './axe.ts';
import { type InPage, screenshot, signInWithToken, useDashboard } from './browser.ts';

const ADMIN = 'browser-admin';

// bypassCSP: axe-core is injected as an inline script, which the page's policy refuses.
const harness = useDashboard('browser-states', {
  stack: { adminApiKey: ADMIN, seedDemo: false, stripe: { fundingDelayMs: 300, webhookRetryBaseMs: 50 } },
  context: { bypassCSP: true },
});
let stack: LocalStack;
let page: Page;
let prepaid: { account_id: string; token: string };
let postpaid: { account_id: string; token: string };

const http = stackClient(() => stack.url, ADMIN);

async function newAccount(name: string): Promise<{ account_id: string; token: string }> {
  const created = await http('POST', '/admin/accounts', { admin: true, body: { name } });
  expect(created.status).toBe(201);
  return created.body;
}

async function setMode(accountId: string, mode: 'prepaid' | 'postpaid') {
  const switched = await http('PUT', `/admin/accounts/${accountId}/billing`, { admin: true, body: { mode } });
  expect(switched.status).toBe(200);
}

beforeAll(async () => {
  ({ stack, page } = harness);
  if (!stack) return;
  prepaid = await newAccount('States prepaid');
  postpaid = await newAccount('States postpaid');
  await setMode(postpaid.account_id, 'postpaid');
});

async function signIn(token: string) {
  await page.goto(`${stack.url}/`);
  const signOut = page.getByRole('button', { name: 'Sign out' });
  if (await signOut.isVisible()) await signOut.click();
  await signInWithToken(page, token);
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
}

async function openView(name: string, heading = name) {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

/**
 * Opens Prices and waits for its list: a view that reads nothing but /v1/prices, so a route set up next for
 * another path is met by the view under test first (the overview reads tokens, auto-refill and invoices).
 */
async function parkOnPrices() {
  await openView('Prices');
  await page.getByRole('table', { name: 'Every feature’s price, in USD' }).waitFor();
}

/** Requests to the stack at `path`, whatever their query. */
const at = (path: string) => (url: URL) => url.origin === stack.url && url.pathname === path;

/** Holds the next request to `path` until the returned function is called, so the view's loading state shows. */
async function hold(path: string): Promise<() => void> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  await page.route(
    at(path),
    async (route) => {
      await gate;
      await route.fallback();
    },
    { times: 1 },
  );
  return release;
}

/** Answers the next request to `path` with a 503 in the contract's error shape. */
async function failNext(path: string) {
  await page.route(
    at(path),
    (route) =>
      route.fulfill({ status: 503, json: { error: 'Unavailable', code: 'temporarily_unavailable' } }),
    { times: 1 },
  );
}

/**
 * Chromium logs every refused request as a console error. This waits for the one(s) a test provoked (this
 * status at this URL) and removes only those; anything else stays for the harness's after-test check.
 */
async function provoked(status: number, path: string) {
  const url = `${stack.url}${path}`;
  const isIt = (problem: { text: string; url: string }) =>
    problem.url.split('?')[0] === url && problem.text.includes(`status of ${status} (`);
  await expect.poll(() => harness.problems.some(isIt)).toBe(true);
  harness.problems.splice(
    0,
    harness.problems.length,
    ...harness.problems.filter((problem) => !isIt(problem)),
  );
}

const loadingText = (what: string) => page.getByText(`Loading ${what}…`, { exact: true });

/** No axe violation and a screenshot at 1280 × 900; with `phone`, the same at 390 × 844 and no sideways scroll. */
async function checked(name: string, { phone = false } = {}) {
  await screenshot(page, `states-${name}`);
  expect(await axeViolations(page), `axe on ${name} at 1280 px`).toEqual([]);
  if (!phone) return;
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await screenshot(page, `states-${name}-phone`);
    expect(await axeViolations(page), `axe on ${name} at 390 px`).toEqual([]);
    const overflow = await page.evaluate(() => {
      const w = globalThis as unknown as InPage & { innerWidth: number };
      return w.document.documentElement.scrollWidth - w.innerWidth;
    });
    expect(overflow, `sideways scrolling on ${name} at 390 px`).toBeLessThanOrEqual(0);
  } finally {
    await page.setViewportSize({ width: 1280, height: 900 });
  }
}

describe('Buy credits: loading, empty history, refusals, success', () => {
  it('says "Loading purchases…" while the history is read, then "No purchases yet."', async () => {
    await signIn(prepaid.token);
    const release = await hold('/v1/billing/purchases');
    await openView('Buy credits');
    await loadingText('purchases').waitFor();
    await checked('buy-loading');
    release();
    await page.getByText('No purchases yet.').waitFor();
    expect(await loadingText('purchases').count()).toBe(0);
    expect(await page.getByRole('table').count()).toBe(0);
    await checked('buy-empty', { phone: true });
  });

  it('shows a failed history read as the error box alone, and Try again recovers', async () => {
    await parkOnPrices();
    await failNext('/v1/billing/purchases');
    await openView('Buy credits');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The billing service had a problem');
    expect(await loadingText('purchases').count()).toBe(0);
    await checked('buy-history-error', { phone: true });
    await provoked(503, '/v1/billing/purchases');
    await alert.getByRole('button', { name: 'Try again' }).click();
    await page.getByText('No purchases yet.').waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
  });

  it("places the API's 400 about the amount next to the field, focused, and opens no checkout", async () => {
    // The server's limits are configurable (read per request): lowered, it refuses what the page accepts.
    process.env.CHECKOUT_MAX_USD = '500';
    try {
      const custom = page.getByLabel('Or another amount (USD)');
      await custom.fill('1000');
      await page.getByRole('button', { name: 'Continue to payment' }).click();
      const problem = page.locator('#custom-amount-problem');
      await problem.waitFor();
      expect(await problem.textContent()).toBe('The amount must be between 5 and 500.');
      expect(await custom.getAttribute('aria-invalid')).toBe('true');
      expect(
        await page.evaluate(() =>
          (globalThis as unknown as InPage).document.activeElement?.getAttribute('id'),
        ),
      ).toBe('custom-amount');
      expect(await page.locator('main').getByRole('alert').count()).toBe(0);
      expect(new URL(page.url()).hash).toBe('#buy');
      await checked('buy-checkout-400', { phone: true });
      await provoked(400, '/v1/billing/checkout');
    } finally {
      delete process.env.CHECKOUT_MAX_USD;
    }
    expect((await http('GET', '/v1/billing/purchases', { token: prepaid.token })).body.data).toEqual([]);
  });

  it("shows the API's 409 (the account is no longer prepaid) as an alert under the button", async () => {
    await page.getByLabel('Or another amount (USD)').fill('');
    await page.getByLabel('$25.00').check();
    expect(await page.locator('#custom-amount-problem').count()).toBe(0);
    await setMode(prepaid.account_id, 'postpaid');
    try {
      await page.getByRole('button', { name: 'Continue to payment' }).click();
      const alert = page.locator('main').getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toContain("Your account's billing mode does not allow this");
      expect(new URL(page.url()).hash).toBe('#buy');
      await checked('buy-checkout-409', { phone: true });
      await provoked(409, '/v1/billing/checkout');
    } finally {
      await setMode(prepaid.account_id, 'prepaid');
    }
  });
});

describe('Auto-refill: loading, no payment method, errors, saved', () => {
  it('says "Loading auto-refill settings…" (not the previous view), then that no payment method is saved', async () => {
    const release = await hold('/v1/billing/auto-refill');
    await page
      .getByRole('navigation', { name: 'Dashboard' })
      .getByRole('link', { name: 'Auto-refill' })
      .click();
    await loadingText('auto-refill settings').waitFor();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Auto-refill');
    expect(await page.getByRole('heading', { name: 'Add credits' }).count()).toBe(0);
    await checked('auto-refill-loading');
    release();
    await page.locator('#refill-summary').waitFor();
    expect(await loadingText('auto-refill settings').count()).toBe(0);
    expect(await page.locator('#refill-summary').textContent()).toBe(
      'Auto-refill is off: your balance is only topped up when you buy credits.',
    );
    expect(await page.getByText('Payment method on file:').textContent()).toBe(
      'Payment method on file: none saved. Buy credits once by card or PayPal to save one. Buy credits',
    );
    expect(await page.locator('main').getByRole('link', { name: 'Buy credits' }).count()).toBe(1);
    await checked('auto-refill-no-payment-method', { phone: true });
  });

  it('shows a failed read as the error box alone, and Try again recovers', async () => {
    await parkOnPrices();
    await failNext('/v1/billing/auto-refill');
    await page
      .getByRole('navigation', { name: 'Dashboard' })
      .getByRole('link', { name: 'Auto-refill' })
      .click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The billing service had a problem');
    expect(await loadingText('auto-refill settings').count()).toBe(0);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Auto-refill');
    await checked('auto-refill-error', { phone: true });
    await provoked(503, '/v1/billing/auto-refill');
    await alert.getByRole('button', { name: 'Try again' }).click();
    await page.locator('#refill-summary').waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
  });

  it("shows the save's refusal (409: no payment method) with the way to fix it, and saves nothing", async () => {
    await page.getByLabel('Refill automatically').check();
    await page.getByRole('button', { name: 'Save auto-refill' }).click();
    const alert = page.locator('main').getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('No payment method is saved yet');
    expect(await alert.getByRole('link', { name: 'Buy credits to save a payment method' }).count()).toBe(1);
    await checked('auto-refill-save-409', { phone: true });
    await provoked(409, '/v1/billing/auto-refill');
    expect((await http('GET', '/v1/billing/auto-refill', { token: prepaid.token })).body.enabled).toBe(false);
  });
});

describe('Buy and Auto-refill after a real checkout', () => {
  it('Buy: pays $25 on the emulator’s checkout and shows the outcome, the balance and the paid row', async () => {
    await openView('Buy credits');
    await page.getByText('No purchases yet.').waitFor();
    await page.getByLabel('$25.00').check();
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.waitForURL((url) => url.href.startsWith(stack.stripe!.url));
    await page.getByLabel('Card number').fill('4242424242424242');
    await page.getByRole('button', { name: 'Pay $25.00' }).click();
    await page.waitForURL((url) => url.href.startsWith(stack.url) && url.hash === '#buy');
    const outcome = page.locator('#purchase-outcome');
    await outcome.waitFor({ timeout: 15_000 });
    expect(await outcome.textContent()).toBe('Payment received: $25.00 added. Your balance is now $25.00.');
    expect(await page.locator('#balance-chip').textContent()).toBe('Balance $25.00');
    const history = page.getByRole('table', { name: 'Purchases, newest first' });
    await expect.poll(() => history.getByRole('row').nth(1).textContent()).toContain('Paid');
    expect(await history.getByRole('row').count()).toBe(2);
    expect(await page.getByText('No purchases yet.').count()).toBe(0);
    await checked('buy-success');
  });

  it('Auto-refill: saves with the card the purchase kept, says so and moves focus to the summary', async () => {
    await openView('Auto-refill');
    expect(await page.getByText('Payment method on file:').textContent()).toBe(
      'Payment method on file: Visa ending in 4242.',
    );
    await page.getByLabel('Refill automatically').check();
    await page.getByLabel('When the available balance falls below (USD)').fill('5');
    await page.getByLabel('Add this amount (USD)').fill('25');
    await page.getByRole('button', { name: 'Save auto-refill' }).click();
    const summary =
      'Auto-refill is on: when your available balance falls below $5.00, $25.00 is charged to Visa ending in 4242.';
    await expect.poll(() => page.locator('#refill-summary').textContent()).toBe(summary);
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.getAttribute('id')),
    ).toBe('refill-summary');
    expect(await page.locator('main').getByRole('alert').count()).toBe(0);
    await checked('auto-refill-saved');
    const saved = (await http('GET', '/v1/billing/auto-refill', { token: prepaid.token })).body;
    expect(saved).toMatchObject({
      enabled: true,
      threshold: 5,
      amount: 25,
      monthly_cap: null,
      status: 'active',
    });
  });
});

describe('Prices and Tokens: loading, list, error', () => {
  it('Prices: "Loading prices…", then the list', async () => {
    const release = await hold('/v1/prices');
    await openView('Prices');
    await loadingText('prices').waitFor();
    await checked('prices-loading');
    release();
    const list = page.getByRole('table', { name: 'Every feature’s price, in USD' });
    await list.waitFor();
    expect(await list.locator('tbody tr').count()).toBeGreaterThan(0);
    expect(await loadingText('prices').count()).toBe(0);
    await checked('prices-list');
  });

  it('Prices: a failed read leaves only the error box (no "Loading prices…"), and Try again recovers', async () => {
    await openView('Overview');
    await failNext('/v1/prices');
    await openView('Prices');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The billing service had a problem');
    expect(await loadingText('prices').count()).toBe(0);
    expect(await page.getByRole('table').count()).toBe(0);
    await checked('prices-error', { phone: true });
    await provoked(503, '/v1/prices');
    await alert.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('table', { name: 'Every feature’s price, in USD' }).waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
  });

  it('Prices: an empty catalog says "No priced features yet." (no table)', async () => {
    await openView('Overview');
    await page.route(at('/v1/prices'), (route) => route.fulfill({ json: { data: [] } }), { times: 1 });
    await openView('Prices');
    await page.getByText('No priced features yet.').waitFor();
    expect(await page.getByRole('table').count()).toBe(0);
    expect(await loadingText('prices').count()).toBe(0);
    await checked('prices-empty', { phone: true });
    // Off Prices, so the next test's parkOnPrices() opens it afresh (a link to the open view draws nothing).
    await openView('Buy credits');
  });

  it('Tokens: a failed list leaves only the error box, the create form stays, and Try again recovers', async () => {
    await parkOnPrices();
    await failNext('/v1/tokens');
    await openView('Tokens');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The billing service had a problem');
    expect(await loadingText('tokens').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Create token' }).count()).toBe(1);
    await checked('tokens-list-error', { phone: true });
    await provoked(503, '/v1/tokens');
    await alert.getByRole('button', { name: 'Try again' }).click();
    await expect.poll(() => page.getByRole('alert').count()).toBe(0);
    await expect.poll(() => page.getByRole('button', { name: /^Revoke/ }).count()).toBeGreaterThan(0);
  });
});

describe('Overview, Usage, Transactions, Notifications, Webhooks, Tokens: loading, and the errors not pinned elsewhere', () => {
  it('Overview: "Loading spend…" and "Loading today\'s requests…", then the figures', async () => {
    await parkOnPrices();
    const release = await hold('/v1/usage');
    await openView('Overview');
    await loadingText('spend').waitFor();
    await loadingText("today's requests").waitFor();
    await checked('overview-loading');
    release();
    await page.locator('#requests-today').waitFor();
    expect(await loadingText('spend').count()).toBe(0);
    expect(await page.locator('#requests-today').textContent()).toContain('0');
  });

  it('Overview: a failed usage read shows the error box with a retry, and Today says it could not be read', async () => {
    await parkOnPrices();
    await failNext('/v1/usage');
    await openView('Overview');
    const alert = page.locator('main').getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The billing service had a problem');
    expect(await page.locator('#today-unread').textContent()).toBe(
      "Today's requests could not be read just now.",
    );
    expect(await loadingText('spend').count()).toBe(0);
    expect(await loadingText("today's requests").count()).toBe(0);
    await checked('overview-usage-error', { phone: true });
    await provoked(503, '/v1/usage');
    await alert.getByRole('button', { name: 'Try again' }).click();
    await page.locator('#requests-today').waitFor();
    expect(await page.locator('main').getByRole('alert').count()).toBe(0);
  });

  it('Usage: "Loading usage…" (not the previous view) until the figures come', async () => {
    const release = await hold('/v1/usage');
    await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Usage' }).click();
    await loadingText('usage').waitFor();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Usage');
    await checked('usage-loading');
    release();
    await page.locator('#usage-empty').waitFor();
    expect(await loadingText('usage').count()).toBe(0);
  });

  it('Usage: a failed read leaves only the error box, and Try again recovers', async () => {
    await parkOnPrices();
    await failNext('/v1/usage');
    await openView('Usage');
    const alert = page.locator('main').getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The billing service had a problem');
    expect(await loadingText('usage').count()).toBe(0);
    expect(await page.locator('#usage-total').count()).toBe(0);
    await checked('usage-error', { phone: true });
    await provoked(503, '/v1/usage');
    await alert.getByRole('button', { name: 'Try again' }).click();
    await page.locator('#usage-total').waitFor();
    expect(await page.locator('main').getByRole('alert').count()).toBe(0);
  });

  it('Transactions: "Loading transactions…", then the entries', async () => {
    const release = await hold('/v1/transactions');
    await openView('Transactions');
    await loadingText('transactions').waitFor();
    await checked('transactions-loading');
    release();
    const others = page.getByRole('table', { name: 'Other entries, newest first' });
    await others.waitFor();
    expect(await others.locator('tbody').textContent()).toContain('Purchase');
    expect(await loadingText('transactions').count()).toBe(0);
  });

  it('Notifications: "Loading notification settings…", then the settings; a failed read, then Try again', async () => {
    await parkOnPrices();
    const release = await hold('/v1/notifications');
    await openView('Notifications');
    await loadingText('notification settings').waitFor();
    await checked('notifications-loading');
    release();
    const settings = page.getByRole('heading', { level: 2, name: 'Settings' });
    await settings.waitFor();
    expect(await loadingText('notification settings').count()).toBe(0);

    await parkOnPrices();
    await failNext('/v1/notifications');
    await page
      .getByRole('navigation', { name: 'Dashboard' })
      .getByRole('link', { name: 'Notifications' })
      .click();
    const alert = page.locator('main').getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The billing service had a problem');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Notifications');
    expect(await loadingText('notification settings').count()).toBe(0);
    await checked('notifications-error', { phone: true });
    await provoked(503, '/v1/notifications');
    await alert.getByRole('button', { name: 'Try again' }).click();
    await settings.waitFor();
    expect(await page.locator('main').getByRole('alert').count()).toBe(0);
  });

  it('Webhooks and Tokens: "Loading webhook endpoints…" and "Loading tokens…", then their lists', async () => {
    const endpoints = await hold('/v1/webhook-endpoints');
    await openView('Webhooks');
    await loadingText('webhook endpoints').waitFor();
    await checked('webhooks-loading');
    endpoints();
    await page.getByText('No webhook endpoints yet.', { exact: false }).waitFor();
    expect(await loadingText('webhook endpoints').count()).toBe(0);

    await parkOnPrices();
    const tokens = await hold('/v1/tokens');
    await openView('Tokens');
    await loadingText('tokens').waitFor();
    await checked('tokens-loading');
    tokens();
    await expect.poll(() => page.getByRole('button', { name: /^Revoke/ }).count()).toBeGreaterThan(0);
    expect(await loadingText('tokens').count()).toBe(0);
  });
});

describe('Limit and invoices (postpaid): loading, no invoices, error, list', () => {
  it('says "Loading your spend limit…" while the account is read, then "Loading invoices…", then no invoices', async () => {
    await signIn(postpaid.token);
    const credits = await hold('/v1/credits');
    await page
      .getByRole('navigation', { name: 'Dashboard' })
      .getByRole('link', { name: 'Limit and invoices' })
      .click();
    await loadingText('your spend limit').waitFor();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Spend limit and invoices');
    await checked('postpaid-loading-limit');
    const invoices = await hold('/v1/billing/invoices');
    credits();
    await loadingText('invoices').waitFor();
    expect(await page.locator('#limit-state').textContent()).toBe(
      'No monthly limit: calls are never refused for spend.',
    );
    await checked('postpaid-loading-invoices');
    invoices();
    await page.getByText('No invoices yet: the first one is issued after your first month.').waitFor();
    expect(await loadingText('invoices').count()).toBe(0);
    await checked('postpaid-no-invoices', { phone: true });
  });

  it('shows a failed invoice list as the error box alone, and Try again recovers', async () => {
    await parkOnPrices();
    await failNext('/v1/billing/invoices');
    await openView('Limit and invoices', 'Spend limit and invoices');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The billing service had a problem');
    expect(await loadingText('invoices').count()).toBe(0);
    await checked('postpaid-invoices-error', { phone: true });
    await provoked(503, '/v1/billing/invoices');
    await alert.getByRole('button', { name: 'Try again' }).click();
    await page.getByText('No invoices yet', { exact: false }).waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
  });

  it('lists invoices with their state: overdue with the way to pay, paid to view only', async () => {
    // The list as the API answers it (a real invoice's whole path is pinned in billing-modes.test.ts).
    await parkOnPrices();
    await page.route(
      `${stack.url}/v1/billing/invoices`,
      (route) =>
        route.fulfill({
          json: {
            data: [
              {
                id: 'in_states_2',
                period: '2026-11',
                amount: 12.5,
                status: 'open',
                due_date: '2026-12-01T00:00:00.000Z',
                hosted_invoice_url: `${stack.url}/hosted/in_states_2`,
              },
              {
                id: 'in_states_1',
                period: '2026-10',
                amount: 3.002,
                status: 'paid',
                due_date: '2026-11-01T00:00:00.000Z',
                hosted_invoice_url: `${stack.url}/hosted/in_states_1`,
              },
            ],
          },
        }),
      { times: 1 },
    );
    await openView('Limit and invoices', 'Spend limit and invoices');
    const list = page.getByRole('table', { name: 'Invoices, newest first' });
    await list.waitFor();
    const rows = list.locator('tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toContain('Overdue');
    expect(await rows.nth(0).getByRole('link').textContent()).toBe('View or pay the 2026-11 invoice');
    expect(await rows.nth(1).textContent()).toContain('$3.002');
    expect(await rows.nth(1).getByRole('link').textContent()).toBe('View the 2026-10 invoice');
    await checked('postpaid-invoices-list', { phone: true });
  });

  it("shows the limit's refusal (409: the account is no longer postpaid) as an alert, the limit unchanged", async () => {
    await setMode(postpaid.account_id, 'prepaid');
    try {
      await page.getByLabel('Monthly spend limit (USD)').fill('50');
      await page.getByRole('button', { name: 'Save limit' }).click();
      const alert = page.locator('main').getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toContain("Your account's billing mode does not allow this");
      expect(await page.locator('#limit-state').textContent()).toBe(
        'No monthly limit: calls are never refused for spend.',
      );
      await checked('postpaid-limit-409', { phone: true });
      await provoked(409, '/v1/billing/spend-limit');
    } finally {
      await setMode(postpaid.account_id, 'postpaid');
    }
    expect(
      (await http('GET', '/v1/credits', { token: postpaid.token })).body.monthly_spend_limit ?? null,
    ).toBe(null);
  });
});

describe('Signing out while a view still loads', () => {
  it('leaves the sign-in form alone: no view drawn over it, no navigation, no 401s, no "not accepted"', async () => {
    // Reopened with the session still in the tab: the start reads the balance, then the overview reads it again
    // and, with it, its warnings and usage. The overview's read is held while "Sign out" is clicked.
    let gate!: () => void;
    const held = new Promise<void>((resolve) => {
      gate = resolve;
    });
    await signIn(postpaid.token);
    const credits = at('/v1/credits');
    let reads = 0;
    let heldSeen!: () => void;
    const overviewReading = new Promise<void>((resolve) => {
      heldSeen = resolve;
    });
    await page.route(credits, async (route) => {
      reads += 1;
      if (reads === 2) {
        heldSeen();
        await held;
      }
      await route.fallback();
    });
    try {
      await page.goto(`${stack.url}/`);
      await overviewReading;
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Work email').waitFor();
      gate();
      // Whatever the held answer would have drawn or sent would be there by now.
      await page.waitForLoadState('networkidle');
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in');
      expect(await page.locator('main').getByRole('alert').count()).toBe(0);
      expect(await page.locator('#nav').isVisible()).toBe(false);
      expect(await page.locator('#balance-chip').isVisible()).toBe(false);
      await checked('signed-out-while-loading');
    } finally {
      gate();
      await page.unroute(credits);
    }
  });
});
