import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/server.ts';
import { stackClient } from '../support/http.ts';
import { screenshot, signInWithToken, useDashboard } from './browser.ts';

const ADMIN = 'browser-admin';

const harness = useDashboard('browser-trips', {
  stack: {
    adminApiKey: ADMIN,
    seedDemo: false,
    // Bank transfers arrive only when funded: the test sees one in progress.
    stripe: { fundingDelayMs: Number.POSITIVE_INFINITY, webhookRetryBaseMs: 50 },
  },
});
let stack: LocalStack;
let page: Page;
let token: string;

beforeAll(async () => {
  ({ stack, page } = harness);
  if (!stack) return;
  const created = await http('POST', '/admin/accounts', { admin: true, body: { name: 'Round trips' } });
  expect(created.status).toBe(201);
  token = created.body.token;
});

const http = stackClient(() => stack.url, ADMIN);

async function openView(name: string, heading = name) {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

describe('Stripe round trips return to the dashboard view they started from', () => {
  it('a purchase from Buy comes back to Buy, with its outcome shown once', async () => {
    await page.goto(`${stack.url}/`);
    await signInWithToken(page, token);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await openView('Buy credits');
    await page.getByLabel('$25.00').check();
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.waitForURL((url) => url.href.startsWith(stack.stripe!.url));
    // A card whose bank asks for authentication whenever the customer is not there: saved for auto-refill.
    await page.getByLabel('Card number').fill('4000002760003184');
    await page.getByRole('button', { name: 'Pay $25.00' }).click();
    await page.waitForURL((url) => url.href.startsWith(stack.url) && url.hash === '#buy');
    await page.locator('#purchase-outcome').waitFor({ timeout: 15_000 });
    const message = 'Payment received: $25.00 added. Your balance is now $25.00.';
    expect(await page.locator('#purchase-outcome').textContent()).toBe(message);
    // The history is read again once the purchase is paid: by then everything about it is drawn.
    const history = page.getByRole('table', { name: 'Purchases, newest first' });
    await expect.poll(() => history.getByRole('row').nth(1).textContent()).toContain('Paid');
    expect(await page.getByText('Payment received').count()).toBe(1);
    await screenshot(page, 'rt-01-buy-outcome-once');
  });

  it('an auto-refill top-up the bank wanted confirmed comes back to auto-refill; the used link goes', async () => {
    await openView('Auto-refill');
    await page.getByLabel('Refill automatically').check();
    // Below the threshold at once: saving starts a refill, which the bank refuses without the customer.
    await page.getByLabel('When the available balance falls below (USD)').fill('30');
    await page.getByLabel('Add this amount (USD)').fill('20');
    await page.getByRole('button', { name: 'Save auto-refill' }).click();
    await page.locator('#refill-summary').waitFor();
    const confirm = page.getByRole('link', { name: 'Confirm the payment and top up' });
    await expect
      .poll(
        async () => {
          await page.reload();
          await page.getByRole('heading', { level: 1, name: 'Auto-refill' }).waitFor();
          return confirm.count();
        },
        { timeout: 20_000 },
      )
      .toBe(1);
    await screenshot(page, 'rt-02-auto-refill-needs-confirmation');

    await confirm.click();
    await page.waitForURL((url) => url.href.startsWith(stack.stripe!.url));
    await page.getByLabel('Card number').fill('4242424242424242');
    await page.getByRole('button', { name: 'Pay $20.00' }).click();

    // The return page is no dead end: it says what happened and leads back to the auto-refill view.
    await page.waitForURL((url) => url.pathname === '/billing/return');
    await page.getByRole('heading', { level: 1, name: /Payment (received|pending)/ }).waitFor();
    expect(new URL(page.url()).searchParams.get('view')).toBe('auto-refill');
    await screenshot(page, 'rt-03-return-page');
    await page.getByRole('link', { name: 'Back to Auto-refill in the billing dashboard' }).click();
    // The top-up page was opened on the stack's public address (localhost), not the one this tab signed in
    // on (127.0.0.1): a sign-in is kept per address, so the dashboard asks again and says why.
    if (new URL(stack.url).host !== new URL(page.url()).host) {
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      expect(await page.locator('#returning').textContent()).toBe(
        'Welcome back from the payment page: sign in to see its outcome.',
      );
      await screenshot(page, 'rt-04-sign-in-on-return');
      await signInWithToken(page, token);
    }

    await page.getByRole('heading', { level: 1, name: 'Auto-refill' }).waitFor();
    expect(new URL(page.url()).hash).toBe('#auto-refill');
    expect(new URL(page.url()).search).toBe('');
    const outcome = page.locator('#purchase-outcome');
    await outcome.waitFor({ timeout: 15_000 });
    expect(await outcome.textContent()).toMatch(/^Payment received: \$20\.00 added\./);
    // The status is read again once the top-up is paid: the used link is no longer offered.
    await expect.poll(() => confirm.count()).toBe(0);
    expect(await page.locator('#last-attempt').textContent()).toContain(
      'needs you to confirm the payment with your bank',
    );
    await screenshot(page, 'rt-05-back-on-auto-refill');
  });

  it('a bank transfer in progress says it waits for the transfer', async () => {
    await openView('Buy credits');
    await page.getByLabel('Or another amount (USD)').fill('30');
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.waitForURL((url) => url.href.startsWith(stack.stripe!.url));
    await page.getByLabel('Bank transfer').check();
    await page.getByRole('button', { name: 'Pay $30.00' }).click();
    await page.waitForURL((url) => url.hash === '#buy');
    const panel = page.getByRole('region', { name: 'Your purchase' });
    await expect
      .poll(() => panel.textContent(), { timeout: 15_000 })
      .toContain('Waiting for your bank transfer of $30.00. Credits appear here as soon as it arrives.');
    await screenshot(page, 'rt-06-bank-transfer-waiting');
  });
});
