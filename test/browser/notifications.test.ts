import type { Page, Request } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/server.ts';
import { type InPage, screenshot, signInWithToken, useDashboard } from './browser.ts';

const ADMIN_KEY = 'browser-admin';

const harness = useDashboard('browser-notify', { stack: { adminApiKey: ADMIN_KEY } });
let stack: LocalStack;
let page: Page;
/** Every PUT /v1/notifications the page sent. */
const sent: Request[] = [];

beforeAll(() => {
  ({ stack, page } = harness);
  page?.on('request', (request) => {
    if (new URL(request.url()).pathname === '/v1/notifications' && request.method() === 'PUT')
      sent.push(request);
  });
});

type Settings = {
  recipients: string[];
  low_balance_threshold: number | null;
  events: Record<'low_balance' | 'auto_refill' | 'spend_limit' | 'invoices' | 'receipts', boolean>;
  status?: { last_sent_at: string | null; last_failure: unknown };
};

async function callApi(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.demo!.token}`, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function stored(): Promise<Settings> {
  const { status, body } = await callApi('GET', '/v1/notifications');
  expect(status).toBe(200);
  return body as Settings;
}

async function openView(name: string) {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

const activeId = () =>
  page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.getAttribute('id') ?? null);

type CaughtMail = { id: string; to: string[]; subject: string; event: string };

async function caughtMail(): Promise<CaughtMail[]> {
  const response = await fetch(`${stack.url}/__local/mail`, { headers: { 'x-admin-key': ADMIN_KEY } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { data: CaughtMail[] }).data;
}

describe('dashboard Notifications view', () => {
  it('says that nobody is emailed before any recipient is set', async () => {
    await page.goto(`${stack.url}/`);
    await signInWithToken(page, stack.demo!.token);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await openView('Notifications');

    expect(await page.locator('#notify-summary').textContent()).toBe(
      'Nobody is emailed yet: add an address below to get billing emails.',
    );
    expect(await page.locator('#notify-last-sent').textContent()).toBe('No email has been sent yet.');
    expect(await page.locator('#notify-last-failure').count()).toBe(0);
    expect(await page.getByRole('textbox', { name: /^Recipient \d+$/ }).count()).toBe(0);
    expect(await page.getByLabel('Low-balance alert below (USD, optional)').inputValue()).toBe('');
    // Every family is on by default.
    for (const label of ['Low balance', 'Auto-refill', 'Spend limits', 'Invoices', 'Purchase receipts']) {
      expect(await page.getByRole('checkbox', { name: label }).isChecked(), label).toBe(true);
    }
    // The explanation is the checkbox's description.
    expect(await page.getByRole('checkbox', { name: 'Invoices' }).getAttribute('aria-describedby')).toBe(
      'notify-invoices-help',
    );
    await screenshot(page, 'notifications-01-empty');
  });

  it('saves two recipients, a $5 alert threshold and invoices off; a reload shows them kept', async () => {
    sent.length = 0;
    await page.getByRole('button', { name: 'Add a recipient' }).click();
    expect(await activeId()).toBe('notify-recipient-0');
    await page.getByLabel('Recipient 1', { exact: true }).fill('ops@example.com');
    await page.getByRole('button', { name: 'Add a recipient' }).click();
    await page.getByLabel('Recipient 2', { exact: true }).fill('finance@example.com');
    // A third, removed again: it is not sent.
    await page.getByRole('button', { name: 'Add a recipient' }).click();
    await page.getByLabel('Recipient 3', { exact: true }).fill('nobody@example.com');
    await page.getByRole('button', { name: 'Remove recipient 3' }).click();
    expect(await page.getByLabel('Recipient 3', { exact: true }).count()).toBe(0);
    await page.getByLabel('Low-balance alert below (USD, optional)').fill('5');
    await page.getByRole('checkbox', { name: 'Invoices' }).uncheck();
    await page.getByRole('button', { name: 'Save notifications' }).click();

    const saved = page.locator('#notify-saved');
    await saved.waitFor();
    expect(await saved.textContent()).toBe(
      'Saved. Billing emails go to 2 addresses, a low-balance alert below $5.00.',
    );
    expect(await activeId()).toBe('notify-saved');
    await expect.poll(() => page.locator('#status').textContent()).toBe('Notification settings saved.');
    expect(await page.locator('#notify-summary').textContent()).toBe('Billing emails go to 2 addresses.');
    expect(sent.map((request) => request.postDataJSON())).toEqual([
      {
        recipients: ['ops@example.com', 'finance@example.com'],
        low_balance_threshold: 5,
        events: { low_balance: true, auto_refill: true, spend_limit: true, invoices: false, receipts: true },
      },
    ]);
    await screenshot(page, 'notifications-02-saved');

    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
    expect(await page.getByLabel('Recipient 1', { exact: true }).inputValue()).toBe('ops@example.com');
    expect(await page.getByLabel('Recipient 2', { exact: true }).inputValue()).toBe('finance@example.com');
    expect(await page.getByLabel('Recipient 3', { exact: true }).count()).toBe(0);
    expect(await page.getByLabel('Low-balance alert below (USD, optional)').inputValue()).toBe('5');
    expect(await page.getByRole('checkbox', { name: 'Invoices' }).isChecked()).toBe(false);
    expect(await page.getByRole('checkbox', { name: 'Purchase receipts' }).isChecked()).toBe(true);
    const settings = await stored();
    expect(settings).toMatchObject({
      recipients: ['ops@example.com', 'finance@example.com'],
      low_balance_threshold: 5,
      events: { low_balance: true, auto_refill: true, spend_limit: true, invoices: false, receipts: true },
    });
  });

  it("shows the API's refusal of a bad address next to that address, and saves nothing", async () => {
    sent.length = 0;
    await page.getByRole('button', { name: 'Add a recipient' }).click();
    await page.getByLabel('Recipient 3', { exact: true }).fill('not-an-address');
    await page.getByRole('button', { name: 'Save notifications' }).click();
    const problem = page.locator('#notify-recipient-2-problem');
    await problem.waitFor();
    // The page does not judge addresses: the API does, and names the field (`recipients.2`).
    expect(sent).toHaveLength(1);
    const text = (await problem.textContent()) ?? '';
    expect(text).toMatch(/email/i);
    expect(text).not.toMatch(/[{}"]/);
    expect(await page.getByLabel('Recipient 3', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Recipient 1', { exact: true }).getAttribute('aria-invalid')).toBeNull();
    expect(await activeId()).toBe('notify-recipient-2');
    expect((await stored()).recipients).toEqual(['ops@example.com', 'finance@example.com']);
    await screenshot(page, 'notifications-03-refused-address');
    // Chromium logs the refused fetch as a console error; this 400 is the one this test provokes.
    expect(harness.problems.every((entry) => /status of 400/.test(entry.text))).toBe(true);
    harness.problems.length = 0;

    // An address listed twice is caught before sending.
    sent.length = 0;
    await page.getByLabel('Recipient 3', { exact: true }).fill('OPS@example.com');
    await page.getByRole('button', { name: 'Save notifications' }).click();
    expect(await page.locator('#notify-recipient-2-problem').textContent()).toBe(
      'This address is listed already.',
    );
    expect(sent).toEqual([]);
    await page.getByRole('button', { name: 'Remove recipient 3' }).click();
  });

  it('shows the last failed email: refused for good, or being retried', async () => {
    // The local mail catcher never refuses an address: the status of GET /v1/notifications is given a failure
    // on its way to the page (the rest of the answer is the API's own).
    let permanent = true;
    await page.route(`${stack.url}/v1/notifications`, async (route) => {
      if (route.request().method() !== 'GET') return route.fallback();
      const response = await route.fetch();
      const body = (await response.json()) as Settings;
      body.status = {
        last_sent_at: '2026-11-30T09:15:00.000Z',
        last_failure: {
          at: '2026-11-30T10:00:00.000Z',
          recipient: 'finance@example.com',
          event_type: 'credits.invoice.issued',
          reason: 'MessageRejected: address does not exist',
          permanent,
        },
      };
      await route.fulfill({ response, json: body });
    });
    try {
      await openView('Overview');
      await openView('Notifications');
      const failure = page.locator('#notify-last-failure');
      expect(await failure.textContent()).toMatch(
        /^The last email that failed: about an issued invoice, to finance@example\.com, Nov 30, 2026, .+ \(MessageRejected: address does not exist\)\. It was refused for good and is not retried: check the address\.$/,
      );
      expect(await page.locator('#notify-last-sent').textContent()).toMatch(
        /^Last email sent Nov 30, 2026, /,
      );
      await screenshot(page, 'notifications-04-last-failure');
      permanent = false;
      await openView('Overview');
      await openView('Notifications');
      expect(await failure.textContent()).toMatch(/\. It is being retried\.$/);
    } finally {
      await page.unroute(`${stack.url}/v1/notifications`);
    }
  });

  it('labels every control and fits a phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await openView('Overview');
    await openView('Notifications');
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
    expect(unlabelled).toEqual([]);
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(390);
    await screenshot(page, 'notifications-05-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('a balance below the alert threshold emails the recipients; the banner opens the local mailbox', async () => {
    // The demo account holds $10: an alert below $50 fires at its next ledger entry.
    const put = await callApi('PUT', '/v1/notifications', {
      recipients: ['alerts@example.com'],
      low_balance_threshold: 50,
      events: { low_balance: true, auto_refill: true, spend_limit: true, invoices: true, receipts: true },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const grant = await fetch(`${stack.url}/admin/accounts/${stack.demo!.accountId}/credits`, {
      method: 'POST',
      headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 1, reason: 'browser test' }),
    });
    expect(grant.status).toBe(201);

    // The stream poller and the notify worker deliver it within seconds.
    const deadline = Date.now() + 20_000;
    let alert: CaughtMail | undefined;
    while (!alert && Date.now() < deadline) {
      alert = (await caughtMail()).find(
        (mail) => mail.event === 'credits.balance.low' && mail.to.includes('alerts@example.com'),
      );
      if (!alert) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(alert, 'a low-balance email in the local mailbox').toBeDefined();
    expect(alert!.subject).toBe('Your balance is below $50.00');

    // The worker records the send in the account's status; the view, drawn afresh, shows it.
    await expect
      .poll(async () => (await stored()).status?.last_sent_at ?? null, { timeout: 10_000 })
      .not.toBeNull();
    await openView('Overview');
    await openView('Notifications');
    expect(await page.locator('#notify-last-sent').textContent()).toMatch(/^Last email sent .+\.$/);
    expect(await page.locator('#notify-summary').textContent()).toBe('Billing emails go to 1 address.');

    const banner = page.getByRole('complementary', { name: 'Local stack' });
    expect(await banner.textContent()).toContain('emails are caught, not sent');
    await banner.getByRole('link', { name: 'Open the local mailbox' }).click();
    await page.waitForURL(`${stack.url}/__local/mailbox`);
    await page.getByRole('heading', { level: 1, name: 'Local mailbox' }).waitFor();
    await page.getByRole('heading', { level: 2, name: alert!.subject }).waitFor();
    await screenshot(page, 'notifications-06-mailbox');
  });
});
