// Dashboard › Audit in Chromium against the local stack: the empty trail, a failed read shown as an alert with
// a retry, then the changes made through the API listed newest first (when, who, what) a page at a time with
// "Load more"; no axe violation at desktop and phone sizes and no sideways scrolling on the phone.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/server.ts';
import { axeViolations } from './axe.ts';
import { type InPage, screenshot, signInWithToken, useDashboard } from './browser.ts';

// bypassCSP: axe-core is injected as an inline script, which the page's policy refuses.
const harness = useDashboard('browser-audit', { context: { bypassCSP: true } });
let stack: LocalStack;
let page: Page;

beforeAll(() => {
  ({ stack, page } = harness);
});

async function callApi(method: string, path: string, body?: unknown) {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.demo!.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
}

async function openView(name: string) {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

const rows = () => page.locator('main tbody tr');
const AUDIT = /\/v1\/audit(\?|$)/;

describe('dashboard Audit view', () => {
  it('says that no change is recorded yet', async () => {
    await page.goto(`${stack.url}/`);
    await signInWithToken(page, stack.demo!.token);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await openView('Audit');
    await page.getByText('No changes recorded yet.').waitFor();
    expect(await rows().count()).toBe(0);
    await screenshot(page, 'audit-01-empty');
  });

  it('shows a failing read as an error with a retry', async () => {
    let fail = true;
    await page.route(AUDIT, (route) =>
      fail
        ? route.fulfill({ status: 503, json: { error: 'Unavailable', code: 'temporarily_unavailable' } })
        : route.fallback(),
    );
    try {
      await openView('Overview');
      await openView('Audit');
      const alert = page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toContain('The billing service had a problem');
      expect(await page.getByText('Loading the audit trail…').count()).toBe(0);
      await screenshot(page, 'audit-02-error');
      fail = false;
      await alert.getByRole('button', { name: 'Try again' }).click();
      await page.getByText('No changes recorded yet.').waitFor();
    } finally {
      await page.unroute(AUDIT);
    }
    // Chromium logs the refused fetch as a console error; this 503 is the one this test provokes.
    expect(harness.problems.every((problem) => /status of 503/.test(problem.text))).toBe(true);
    harness.problems.length = 0;
  });

  it('lists the changes newest first, 25 at a time with Load more, readable at desktop and phone sizes', async () => {
    const settings = {
      recipients: ['finance@example.com'],
      low_balance_threshold: null,
      events: { low_balance: true, auto_refill: true, spend_limit: true, invoices: true, receipts: true },
    };
    for (let i = 0; i < 26; i++) await callApi('PUT', '/v1/notifications', settings);
    await callApi('POST', '/v1/tokens', { name: 'deploy bot', scopes: ['api'] });

    await openView('Overview');
    await openView('Audit');
    await rows().first().waitFor();
    expect(await rows().count()).toBe(25);
    const first = rows().first();
    expect(await first.textContent()).toContain('Created a token');
    expect(await first.textContent()).toContain('deploy bot');
    expect(await first.textContent()).toMatch(/API token tok_/);
    expect(await rows().nth(1).textContent()).toContain('Changed notification settings');
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'audit-03-list');

    const more = page.getByRole('button', { name: 'Load more' });
    await more.click();
    await expect.poll(() => rows().count()).toBe(27);
    expect(await more.isHidden()).toBe(true);

    await page.setViewportSize({ width: 390, height: 844 });
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(390);
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'audit-04-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
