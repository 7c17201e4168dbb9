// The dashboard's checks (issue 17 "Checks"): every view of the navigation, read from the page itself so a new
// view is covered without touching this file, at a desktop (1280 × 900) and a phone (390 × 844) size, with
// axe-core injected: no accessibility violation of any impact, no sideways scrolling, no console error, and a
// screenshot of each view at each size. The page's compressed size is measured from the build.
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../dashboard/build.ts';
import { type LocalStack, startLocalStack } from '../../local/server.ts';
import { axeViolations } from './axe.ts';
import { type ConsoleProblem, launchChromium, screenshot, signInWithToken, watchConsole } from './browser.ts';

/** The page's budget, every file gzip-compressed (issue 17: under 25 KB). */
const PAGE_BUDGET_BYTES = 25_000;

let stack: LocalStack;
let browser: Browser;
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
    adminApiKey: 'browser-admin',
    dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
    tableName: `browser-checks-${randomUUID().slice(0, 8)}`,
    seedDemo: true,
    runJobs: false,
    quiet: true,
    stripe: { fundingDelayMs: 300, webhookRetryBaseMs: 50 },
  });
  // Something in every view: a paid purchase (purchase history), paid calls (usage, chart, ledger), a grant,
  // a webhook endpoint.
  const call = (method: string, path: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${stack.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const bearer = { authorization: `Bearer ${stack.demo!.token}` };
  for (let i = 0; i < 3; i++)
    expect((await call('POST', '/v1/demo/echo', { text: `call ${i}` }, bearer)).status).toBe(200);
  const grant = await call(
    'POST',
    `/admin/accounts/${stack.demo!.accountId}/credits`,
    { amount: 5, reason: 'checks: a welcome grant' },
    { 'x-admin-key': 'browser-admin' },
  );
  expect(grant.status).toBe(201);
  const hook = await call(
    'POST',
    '/v1/webhook-endpoints',
    { url: 'http://127.0.0.1:9/billing-events-with-a-rather-long-path/for-narrow-screens', events: ['*'] },
    bearer,
  );
  expect(hook.status).toBe(201);
  const checkout = await call(
    'POST',
    '/v1/billing/checkout',
    { amount: 25 },
    {
      ...bearer,
      'idempotency-key': randomUUID(),
    },
  );
  expect(checkout.status).toBe(201);
  const { checkout_url } = (await checkout.json()) as { checkout_url: string };
  const payer = await browser.newPage();
  try {
    await payer.goto(checkout_url);
    await payer.getByLabel('Card number').fill('4242424242424242');
    await payer.getByRole('button', { name: 'Pay $25.00' }).click();
    // The emulator pays after a short funding delay; the purchase is read until it is paid.
    const deadline = Date.now() + 20_000;
    let status: string | undefined;
    while (status !== 'paid' && Date.now() < deadline) {
      const response = await fetch(`${stack.url}/v1/billing/purchases`, { headers: bearer });
      status = ((await response.json()) as { data: { status: string }[] }).data[0]?.status;
      if (status !== 'paid') await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(status, 'the seeded $25 purchase').toBe('paid');
  } finally {
    await payer.close();
  }
});

beforeEach(() => {
  if (launchFailure) throw launchFailure;
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** The browser globals read inside `page.evaluate` (the tests compile without the DOM library). */
type InPage = {
  innerWidth: number;
  document: {
    documentElement: { scrollWidth: number };
    querySelector(selector: string): unknown;
    querySelectorAll(
      selector: string,
    ): Iterable<{ textContent: string | null; getAttribute(name: string): string | null }>;
  };
};

/** The navigation's links as the page draws them: name and hash. */
async function navLinks(page: Page): Promise<{ name: string; hash: string }[]> {
  return page.evaluate(() =>
    [...(globalThis as unknown as InPage).document.querySelectorAll('#nav a')].map((link) => ({
      name: (link.textContent ?? '').trim(),
      hash: link.getAttribute('href') ?? '',
    })),
  );
}

/** Waits until the view has drawn its answers: no busy region and no "Loading …" placeholder left. */
async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const { document } = globalThis as unknown as InPage;
    if (document.querySelector('[aria-busy="true"]')) return false;
    return ![...document.querySelectorAll('main p')].some((p) => /^Loading .*…$/.test(p.textContent ?? ''));
  });
}

const sizes = [
  { name: 'desktop', width: 1280, height: 900 },
  { name: 'phone', width: 390, height: 844 },
] as const;

describe('dashboard checks: every view at two sizes', () => {
  it.each(sizes)(
    'at $width × $height: no axe violation, no sideways scrolling, no console error',
    async ({ name, width, height }) => {
      const context = await browser.newContext({ viewport: { width, height }, bypassCSP: true });
      const page = await context.newPage();
      const problems: ConsoleProblem[] = watchConsole(page, stack.url);
      try {
        await page.goto(`${stack.url}/`);
        await signInWithToken(page, stack.demo!.token);
        await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
        const links = await navLinks(page);
        expect(links.length).toBeGreaterThanOrEqual(8);
        expect(links.map((link) => link.hash)).toContain('#webhooks');

        const found: Record<string, { axe: string[]; overflow: number | null; console: string[] }> = {};
        for (const link of links) {
          await page
            .getByRole('navigation', { name: 'Dashboard' })
            .getByRole('link', { name: link.name })
            .click();
          await page.waitForURL(`**/${link.hash}`);
          await page.getByRole('heading', { level: 1 }).first().waitFor();
          await settled(page);
          const id = link.hash.replace(/^#/, '');
          await screenshot(page, `checks-${id}-${name}`);
          const axe = await axeViolations(page);
          const overflow = await page.evaluate(() => {
            const w = globalThis as unknown as InPage;
            const wide = w.document.documentElement.scrollWidth;
            return wide > w.innerWidth ? wide : null;
          });
          const console = problems.splice(0).map((problem) => problem.text);
          if (axe.length || overflow !== null || console.length) found[id] = { axe, overflow, console };
        }
        // Every view's findings at once, so one run lists all that is left to fix.
        expect(found).toEqual({});
      } finally {
        await context.close();
      }
    },
  );

  it(`keeps the page under ${PAGE_BUDGET_BYTES} bytes gzip`, () => {
    // What a visit downloads before the first view shows; the other views are chunks loaded when opened.
    const total = buildDashboard()
      .filter((file) => file.initial)
      .reduce((sum, file) => sum + file.gzip.length, 0);
    console.info(`dashboard page: ${total} B gzip`);
    expect(total).toBeLessThan(PAGE_BUDGET_BYTES);
  });
});
