// Issue 19, the visible part: an AWS Marketplace contract buyer (`billing_mode: marketplace_contract`) in the
// dashboard, in Chromium against the local stack. The overview reads like a prepaid one (balance, the 7-day
// pace, the low-balance banner) without buying or auto-refill; the Contract view's loading, error, empty and
// success states say what the contract entitles, what was granted, when it ends and where to buy more. Each
// state has a screenshot under test-output/screenshots/ (`states-contract-<state>`) and 0 axe violations at
// 1280 × 900 and 390 × 844 (no sideways scrolling there). The contract accounts are prepaid accounts whose
// item is then written as the Marketplace registration writes a contract buyer's (the stack runs in this
// process, on its own table), so the test does not wait for the emulator's entitlements; grants go through
// the ledger with a contract grant's reason and usage through the API, so balance = ledger throughout.
// MARKETPLACE_LISTING_URL is read per request, so each test sets or clears it before the page reads. Last, a
// pay-as-you-go Marketplace buyer (`billing_mode: marketplace`) keeps its overview: no balance, no Contract.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Page } from 'playwright-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/server.ts';
import { createAccount, grantCredits } from '../../shared/accounts/service.ts';
import { config } from '../../shared/config.ts';
import { ddb } from '../../shared/dynamo/client.ts';
import { keys } from '../../shared/dynamo/keys.ts';
import { stackClient } from '../support/http.ts';
import { axeViolations } from './axe.ts';
import { type InPage, screenshot, signInWithToken, useDashboard } from './browser.ts';

const ADMIN = 'browser-contract-admin';
const LISTING = 'https://aws.amazon.com/marketplace/pp/prodview-contracttest';
const MICROS = 1_000_000;

// bypassCSP: axe-core is injected as an inline script, which the page's policy refuses.
const harness = useDashboard('browser-contract', {
  stack: { adminApiKey: ADMIN, seedDemo: false },
  context: { bypassCSP: true },
});
let stack: LocalStack;
let page: Page;

const http = stackClient(() => stack.url, ADMIN);

beforeAll(() => {
  ({ stack, page } = harness);
});

afterEach(() => {
  delete process.env.MARKETPLACE_LISTING_URL;
});

type ContractState = {
  entitledUsd: number;
  grantedUsd: number;
  contractEnd: string | null;
  status: string;
  /** False: no entitlements read yet (the item has no `marketplace_contract`). */
  summary?: boolean;
};

/**
 * A contract buyer's account: its grants through the ledger (so the balance is the ledger's sum), then the
 * account item as a contract buyer's: the mode, the subscription and what the contract entitles.
 */
async function contractAccount(
  name: string,
  state: ContractState,
): Promise<{ accountId: string; token: string }> {
  const { account, token } = await createAccount({ name });
  if (state.grantedUsd > 0)
    await grantCredits({
      accountId: account.account_id,
      amountUsd: state.grantedUsd,
      reason: `AWS Marketplace contract: ${state.grantedUsd / 100} × credits_100 (agreement agmt-browser)`,
    });
  const summary = {
    entitled: state.entitledUsd * MICROS,
    granted: state.grantedUsd * MICROS,
    contract_end: state.contractEnd,
    read_at: new Date().toISOString(),
  };
  await ddb().send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: keys.account(account.account_id),
      UpdateExpression:
        state.summary === false
          ? 'SET billing_mode = :mode, subscription_status = :status'
          : 'SET billing_mode = :mode, subscription_status = :status, marketplace_contract = :summary',
      ExpressionAttributeValues: {
        ':mode': 'marketplace_contract',
        ':status': state.status,
        ...(state.summary === false ? {} : { ':summary': summary }),
      },
    }),
  );
  return { accountId: account.account_id, token };
}

async function signIn(token: string) {
  await page.goto(`${stack.url}/`);
  const signOut = page.getByRole('button', { name: 'Sign out' });
  if (await signOut.isVisible()) await signOut.click();
  await signInWithToken(page, token);
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
}

const nav = () => page.getByRole('navigation', { name: 'Dashboard' });

async function openContract() {
  await nav().getByRole('link', { name: 'Contract' }).click();
  await page.getByRole('heading', { level: 1, name: 'AWS Marketplace contract' }).waitFor();
}

/** Opens Prices (it reads nothing but /v1/prices), so a route set up next is met by the view under test. */
async function parkOnPrices() {
  await nav().getByRole('link', { name: 'Prices' }).click();
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

/** Removes the console error Chromium logs for the refused request a test provoked, and only that one. */
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

/** A screenshot and no axe violation at 1280 × 900, then the same at 390 × 844 with no sideways scrolling. */
async function checked(name: string) {
  await screenshot(page, `states-contract-${name}`);
  expect(await axeViolations(page), `axe on ${name} at 1280 px`).toEqual([]);
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await screenshot(page, `states-contract-${name}-phone`);
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

const text = (selector: string) => page.locator(selector).textContent();
const loadingContract = () => page.getByText('Loading your contract…', { exact: true });

describe('an AWS Marketplace contract buyer in the dashboard', () => {
  let buyer: { accountId: string; token: string };

  beforeAll(async () => {
    if (!stack) return;
    buyer = await contractAccount('Contract buyer', {
      entitledUsd: 500,
      grantedUsd: 500,
      contractEnd: '2027-12-01T00:00:00.000Z',
      status: 'active',
    });
    // Five echo calls at $0.002, debited from the contract's credits like prepaid usage.
    for (let i = 0; i < 5; i++) {
      const call = await http('POST', '/v1/demo/echo', { token: buyer.token, body: { text: `call ${i}` } });
      expect(call.status, JSON.stringify(call.body)).toBe(200);
    }
    // The pace reads the usage rollups, which follow the ledger through the table's stream by a poll.
    await stack.drainStream();
  });

  it('overview: the balance, the pace and the low-balance banner as for prepaid, no Buy and no Auto-refill', async () => {
    process.env.MARKETPLACE_LISTING_URL = LISTING;
    expect((await http('GET', '/v1/credits', { token: buyer.token })).body).toEqual({
      balance: 499.99,
      available: 499.99,
      held: 0,
      currency: 'USD',
      billing_mode: 'marketplace_contract',
      subscription_status: 'active',
      marketplace: {
        entitled: 500,
        granted: 500,
        contract_end: '2027-12-01T00:00:00.000Z',
        listing_url: LISTING,
      },
    });
    // An alert threshold above the balance: the low-balance banner, whose way out is AWS Marketplace.
    const alerts = await http('PUT', '/v1/notifications', {
      token: buyer.token,
      body: {
        recipients: ['ops@example.com'],
        low_balance_threshold: 600,
        events: {
          low_balance: true,
          auto_refill: false,
          spend_limit: false,
          invoices: false,
          receipts: false,
        },
      },
    });
    expect(alerts.status, JSON.stringify(alerts.body)).toBe(200);

    await signIn(buyer.token);
    expect(await text('#balance-chip')).toBe('Balance $499.99');
    expect(await text('#balance')).toBe('$499.99');
    expect(await text('#available')).toBe('$499.99');
    await page.locator('#pace').waitFor();
    expect(await text('#pace')).toMatch(
      /^At the last 7 days' pace \(about \$0\.01 a day\), your balance lasts about [\d,]+ days\.$/,
    );
    expect(await text('#contract-line')).toBe(
      'Funded by your AWS Marketplace contract. See your contract and how to buy more',
    );
    const low = page.locator('#warn-low-balance');
    await low.waitFor();
    expect(await low.textContent()).toBe(
      'Your available balance of $499.99 is under your alert threshold of $600.00. Buy more through AWS Marketplace',
    );
    const buyMore = low.getByRole('link', { name: 'Buy more through AWS Marketplace' });
    expect(await buyMore.getAttribute('href')).toBe(LISTING);
    expect(await buyMore.getAttribute('target')).toBe('_blank');
    expect(await page.locator('#refill-line').isHidden()).toBe(true);
    expect(await page.locator('#warn-contract-status').count()).toBe(0);
    expect(await page.locator('#warnings-unread').count()).toBe(0);
    expect(await page.getByRole('link', { name: /buy credits|auto-refill/i }).count()).toBe(0);
    expect(await nav().getByRole('link').allTextContents()).toEqual([
      'Overview',
      'Contract',
      'Usage',
      'Transactions',
      'Tokens',
      'Notifications',
      'Webhooks',
      'Members',
      'Audit',
      'Prices',
    ]);
    await checked('overview');

    // Typed addresses of the prepaid pages land on the overview, not on a form the buyer cannot use.
    for (const hash of ['#buy', '#auto-refill']) {
      await page.goto(`${stack.url}/${hash}`);
      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      expect(await page.getByRole('button', { name: 'Continue to payment' }).count()).toBe(0);
    }
    // The grant reads as one, with its reason, in Transactions.
    await nav().getByRole('link', { name: 'Transactions' }).click();
    await page.getByText('AWS Marketplace contract: 5 × credits_100 (agreement agmt-browser)').waitFor();
  });

  it('Contract: "Loading your contract…" (not the previous view), then entitled, granted, end and the AWS link', async () => {
    process.env.MARKETPLACE_LISTING_URL = LISTING;
    await signIn(buyer.token);
    await parkOnPrices();
    const release = await hold('/v1/credits');
    await nav().getByRole('link', { name: 'Contract' }).click();
    await loadingContract().waitFor();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('AWS Marketplace contract');
    expect(await page.getByRole('table').count()).toBe(0);
    await checked('loading');
    release();
    await page.locator('#contract-entitled').waitFor();
    expect(await loadingContract().count()).toBe(0);
    expect(await text('#contract-entitled')).toBe('$500.00');
    expect(await text('#contract-granted')).toBe('$500.00');
    expect(await page.locator('#contract-granted-note').count()).toBe(0);
    expect(await text('#contract-end')).toBe('Dec 1, 2027');
    expect(await page.locator('#contract-status').count()).toBe(0);
    const link = page.getByRole('link', { name: 'Buy more through AWS Marketplace' });
    expect(await link.getAttribute('href')).toBe(LISTING);
    expect(await link.getAttribute('target')).toBe('_blank');
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer');
    expect(await page.title()).toBe('Contract · Billing dashboard');
    await checked('success');
  });

  it('Contract: a failed read leaves only the error box under the heading, and Try again recovers', async () => {
    process.env.MARKETPLACE_LISTING_URL = LISTING;
    await signIn(buyer.token);
    await parkOnPrices();
    await failNext('/v1/credits');
    await nav().getByRole('link', { name: 'Contract' }).click();
    const alert = page.locator('main').getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The billing service had a problem');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('AWS Marketplace contract');
    expect(await loadingContract().count()).toBe(0);
    expect(await page.locator('#contract-entitled').count()).toBe(0);
    await checked('error');
    await provoked(503, '/v1/credits');
    await alert.getByRole('button', { name: 'Try again' }).click();
    await page.locator('#contract-entitled').waitFor();
    expect(await page.locator('main').getByRole('alert').count()).toBe(0);
  });

  it('Contract: nothing granted yet, no listing configured, a failed subscription: says each in words', async () => {
    const fresh = await contractAccount('Contract not granted yet', {
      entitledUsd: 0,
      grantedUsd: 0,
      contractEnd: null,
      status: 'failed',
      summary: false,
    });
    await signIn(fresh.token);
    expect(await text('#balance')).toBe('$0.00');
    // No usage yet: no pace to estimate.
    await page.locator('#requests-today').waitFor();
    expect(await page.locator('#pace').isHidden()).toBe(true);
    const ended = page.locator('#warn-contract-status');
    await ended.waitFor();
    expect(await ended.textContent()).toBe(
      'Your AWS Marketplace subscription has failed: no more credits are granted from it until you subscribe again through AWS Marketplace. See your contract',
    );
    await openContract();
    expect(await text('#contract-status')).toBe(
      'Your AWS Marketplace subscription has failed: no more credits are granted from it until you subscribe again through AWS Marketplace.',
    );
    expect(await text('#contract-empty')).toBe(
      'No credits from your contract yet: they are added to your balance as soon as AWS Marketplace confirms the contract, usually within minutes of buying it.',
    );
    expect(await page.locator('dl.figures').count()).toBe(0);
    expect(await text('#buy-more')).toBe(
      'To buy more, upgrade or renew your contract from the AWS Marketplace subscriptions page of your AWS account.',
    );
    expect(await page.getByRole('link', { name: /AWS Marketplace/ }).count()).toBe(0);
    await checked('empty');
  });

  it('Contract: after a downgrade, granted above entitled is explained; no end date; a pending cancellation', async () => {
    const downgraded = await contractAccount('Contract downgraded', {
      entitledUsd: 300,
      grantedUsd: 500,
      contractEnd: null,
      status: 'cancel_pending',
    });
    await signIn(downgraded.token);
    await openContract();
    expect(await text('#contract-entitled')).toBe('$300.00');
    expect(await text('#contract-granted')).toBe('$500.00');
    expect(await text('#contract-granted-note')).toBe(
      'More than the contract now entitles: credits granted before a change of contract are kept.',
    );
    expect(await text('#contract-end')).toBe('No end date');
    expect(await text('#contract-status')).toBe(
      'Your AWS Marketplace subscription is being cancelled: renew it through AWS Marketplace to keep receiving credits from it.',
    );
    await checked('downgraded');
  });

  it('a pay-as-you-go Marketplace buyer keeps its overview: billed through AWS, no balance, no Contract', async () => {
    process.env.MARKETPLACE_LISTING_URL = LISTING;
    const { account, token } = await createAccount({ name: 'Pay as you go buyer' });
    await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.account(account.account_id),
        UpdateExpression: 'SET billing_mode = :mode, subscription_status = :status',
        ExpressionAttributeValues: { ':mode': 'marketplace', ':status': 'active' },
      }),
    );
    expect((await http('GET', '/v1/credits', { token })).body).not.toHaveProperty('marketplace');
    await signIn(token);
    expect(await text('#balance-chip')).toBe('Billed through AWS');
    expect(await page.getByRole('region', { name: 'Billing' }).textContent()).toContain(
      'Your usage is billed through AWS',
    );
    await page.locator('#requests-today').waitFor();
    expect(await page.locator('#balance').count()).toBe(0);
    expect(await page.locator('#contract-line').count()).toBe(0);
    expect(await nav().getByRole('link', { name: 'Contract' }).count()).toBe(0);
    await page.goto(`${stack.url}/#contract`);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  });
});
