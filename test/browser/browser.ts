// Browser tests: Debian's Chromium driven by playwright-core (no browser download), console-error capture
// and screenshots under test-output/screenshots/.

import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/server.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

/** Fails (never skips) without Chromium, saying how to install it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}. The browser tests need it: install it with ` +
        '`sudo apt-get install -y chromium` (Debian/Ubuntu; .ci/run does this), or set CHROMIUM_PATH.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export type ConsoleProblem = { text: string; url: string };

/**
 * Every console error and uncaught exception while the page is on `origin` (the dashboard). Other origins
 * visited on the way (the Stripe emulator's checkout page, which has no favicon) are not the dashboard's.
 */
export function watchConsole(page: Page, origin: string): ConsoleProblem[] {
  const problems: ConsoleProblem[] = [];
  const ours = (url: string) => url === '' || url.startsWith(origin);
  page.on('console', (message) => {
    const url = message.location().url;
    if (message.type() === 'error' && ours(url) && ours(page.url()))
      problems.push({ text: message.text(), url });
  });
  page.on('pageerror', (error) => {
    if (ours(page.url())) problems.push({ text: `uncaught: ${error.message}`, url: page.url() });
  });
  return problems;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

type InPageElement = {
  textContent: string | null;
  tagName: string;
  outerHTML: string;
  labels?: ArrayLike<{ textContent: string | null }> | null;
  getAttribute(name: string): string | null;
};
type ResourceTiming = {
  name: string;
  transferSize: number;
  encodedBodySize: number;
  decodedBodySize: number;
  domContentLoadedEventEnd: number;
};

/**
 * The browser globals the tests read inside `page.evaluate`: the tests compile without the DOM library, so
 * callbacks start with `const w = globalThis as unknown as InPage` (a cast, erased before it runs).
 */
export type InPage = {
  document: {
    activeElement: InPageElement | null;
    documentElement: { scrollWidth: number };
    cookie: string;
    querySelectorAll(selector: string): Iterable<InPageElement>;
  };
  sessionStorage: Storage;
  localStorage: Storage;
  performance: { getEntriesByType(type: 'navigation' | 'resource'): ResourceTiming[] };
};

/** One test file's browser, local stack and (unless `page: false`) watched page, filled in before its tests. */
export type DashboardHarness = {
  browser: Browser;
  stack: LocalStack;
  context: BrowserContext;
  page: Page;
  problems: ConsoleProblem[];
};

/**
 * Registers a test file's browser setup: Chromium (a missing one fails every test with the install hint, never
 * skips), a local stack on its own table named after the file, and one page watched for console errors, which
 * are checked after every test; everything is closed after the file. Read the fields in a test or a later
 * `beforeAll` (they are set by this one, which runs first).
 */
export function useDashboard(
  name: string,
  options: {
    stack?: LocalStackOptions;
    context?: BrowserContextOptions;
    /** False: the file makes its own contexts and pages (then `context`, `page` and `problems` stay unset). */
    page?: boolean;
  } = {},
): DashboardHarness {
  const harness = { problems: [] } as unknown as DashboardHarness;
  let launchFailure: unknown;
  beforeAll(async () => {
    try {
      harness.browser = await launchChromium();
    } catch (error) {
      launchFailure = error;
      return;
    }
    harness.stack = await startLocalStack({
      port: 0,
      adminApiKey: 'browser-admin',
      dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
      tableName: `${name}-${randomUUID().slice(0, 8)}`,
      seedDemo: true,
      runJobs: false,
      quiet: true,
      ...options.stack,
    });
    if (options.page === false) return;
    harness.context = await harness.browser.newContext({
      viewport: { width: 1280, height: 900 },
      ...options.context,
    });
    harness.page = await harness.context.newPage();
    harness.problems = watchConsole(harness.page, harness.stack.url);
  });
  beforeEach(() => {
    if (launchFailure) throw launchFailure;
  });
  afterEach(() => {
    expect(harness.problems.splice(0), 'console errors on the dashboard').toEqual([]);
  });
  afterAll(async () => {
    await harness.browser?.close();
    await harness.stack?.stop();
  });
  return harness;
}

/**
 * Signs in with a billing token, the dashboard's second way in (email links are the first): opens the
 * "Sign in with a billing token instead" disclosure, pastes the token and submits.
 */
export async function signInWithToken(page: Page, token: string): Promise<void> {
  const disclosure = page.locator('details.token-sign-in');
  await disclosure.waitFor();
  if (!(await disclosure.evaluate((element) => (element as unknown as { open: boolean }).open)))
    await disclosure.locator('summary').click();
  await page.getByLabel('Billing token').fill(token);
  await page.getByRole('button', { name: 'Sign in with token' }).click();
}
