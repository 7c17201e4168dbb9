import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/server.ts';
import { axeViolations } from './axe.ts';
import { type InPage, screenshot, signInWithToken, useDashboard } from './browser.ts';

// bypassCSP: axe-core is injected as an inline script, which the page's policy refuses.
const harness = useDashboard('browser-webhooks', { context: { bypassCSP: true } });
let stack: LocalStack;
let context: BrowserContext;
let page: Page;

/** What the receiver got: each request's headers and body. */
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
let receiver: Server;
let receiverUrl: string;

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/billing-events`;
  ({ stack, context, page } = harness);
  if (!stack) return;
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.url });
});

afterAll(async () => {
  await new Promise((resolve) => receiver?.close(resolve));
});

async function callApi(method: string, path: string, body?: unknown) {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.demo!.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

type Endpoint = { id: string; url: string; events: string[]; status: string };

async function endpoints(): Promise<Endpoint[]> {
  const { status, body } = await callApi('GET', '/v1/webhook-endpoints');
  expect(status).toBe(200);
  return (body as { data: Endpoint[] }).data;
}

async function openView(name: string) {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

const endpointItem = (url: string) => page.getByRole('listitem', { name: url });

describe('dashboard Webhooks view', () => {
  it('says that no endpoint is set up yet', async () => {
    await page.goto(`${stack.url}/`);
    await signInWithToken(page, stack.demo!.token);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await openView('Webhooks');
    await page.getByText('No webhook endpoints yet.', { exact: false }).waitFor();
    expect(await page.locator('main').getByRole('listitem').count()).toBe(0);
    await screenshot(page, 'webhooks-01-empty');
  });

  it('shows a failing listing as an error with a retry, then the list', async () => {
    let fail = true;
    await page.route(`${stack.url}/v1/webhook-endpoints`, (route) =>
      fail
        ? route.fulfill({ status: 503, json: { error: 'Unavailable', code: 'temporarily_unavailable' } })
        : route.fallback(),
    );
    try {
      await openView('Overview');
      await openView('Webhooks');
      const alert = page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toContain('The billing service had a problem');
      expect(await page.getByText('Loading webhook endpoints…').count()).toBe(0);
      await screenshot(page, 'webhooks-02-error');
      fail = false;
      await alert.getByRole('button', { name: 'Try again' }).click();
      await page.getByText('No webhook endpoints yet.', { exact: false }).waitFor();
    } finally {
      await page.unroute(`${stack.url}/v1/webhook-endpoints`);
    }
    // Chromium logs the refused fetch as a console error; this 503 is the one this test provokes.
    expect(harness.problems.every((problem) => /status of 503/.test(problem.text))).toBe(true);
    harness.problems.length = 0;
  });

  it("shows the API's refusal of a URL next to the field, and asks for at least one chosen event", async () => {
    await page.getByLabel('Endpoint URL').fill('ftp://127.0.0.1/billing-events');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const problem = page.locator('#webhook-url-problem');
    await problem.waitFor();
    expect(await problem.textContent()).toMatch(/^The URL .+\.$/);
    expect(await page.getByLabel('Endpoint URL').getAttribute('aria-invalid')).toBe('true');
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.getAttribute('id')),
    ).toBe('webhook-url');
    await screenshot(page, 'webhooks-02b-refused-url');
    // Chromium logs the refused fetch as a console error; this 400 is the one this test provokes.
    expect(harness.problems.every((entry) => /status of 400/.test(entry.text))).toBe(true);
    harness.problems.length = 0;

    await page.getByLabel('Endpoint URL').fill(receiverUrl);
    await page.getByRole('radio', { name: 'Only the events I choose' }).check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    expect(await page.locator('main').getByRole('alert').textContent()).toBe('Choose at least one event.');
    expect(await endpoints()).toEqual([]);
    await page.getByRole('radio', { name: 'All events, including new ones' }).check();
    expect(await page.getByRole('group', { name: 'Events to send' }).isVisible()).toBe(false);
  });

  it('adds an endpoint for chosen events and shows its signing secret once', async () => {
    await page.getByLabel('Endpoint URL').fill(receiverUrl);
    await page.getByRole('radio', { name: 'Only the events I choose' }).check();
    await page.getByRole('checkbox', { name: 'Balance low' }).check();
    await page.getByRole('checkbox', { name: 'Invoice paid' }).check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();

    const secret = page.getByLabel('Signing secret');
    await secret.waitFor();
    const value = await secret.inputValue();
    expect(value).toMatch(/^whsec_/);
    expect(await page.locator('main').getByText("you won't see it again", { exact: false }).count()).toBe(1);
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.getAttribute('id')),
    ).toBe('new-secret');
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.getByText('Copied.').waitFor();
    expect(
      await page.evaluate(() =>
        (
          globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }
        ).navigator.clipboard.readText(),
      ),
    ).toBe(value);

    const item = endpointItem(receiverUrl);
    await item.waitFor();
    expect(await item.textContent()).toContain('Events: credits.balance.low, credits.invoice.paid.');
    expect(await item.textContent()).toContain('Enabled, delivering.');
    const stored = await endpoints();
    expect(stored).toEqual([
      expect.objectContaining({
        url: receiverUrl,
        events: ['credits.balance.low', 'credits.invoice.paid'],
        status: 'enabled',
      }),
    ]);
    await screenshot(page, 'webhooks-03-secret-once');
    expect(await axeViolations(page)).toEqual([]);

    // Drawn afresh, the view no longer has the secret: the API never answers it again.
    await openView('Overview');
    await openView('Webhooks');
    await endpointItem(receiverUrl).waitFor();
    expect(await page.getByLabel('Signing secret').count()).toBe(0);
    expect(await page.content()).not.toContain(value);
  });

  it('sends a test event: the receiver gets it and the delivery log shows it succeeded', async () => {
    received.length = 0;
    const item = endpointItem(receiverUrl);
    await item.getByRole('button', { name: `Send test event to ${receiverUrl}` }).click();
    await item.getByText('Test event queued', { exact: false }).waitFor();
    const log = item.getByRole('table');
    await log.waitFor();
    // The local queue delivers within a second or two; the log is read again until it says so.
    await expect
      .poll(
        async () => {
          await item.getByRole('button', { name: `Refresh log of ${receiverUrl}` }).click();
          await log.waitFor();
          return (await log.locator('tbody tr').first().textContent()) ?? '';
        },
        { timeout: 20_000, interval: 500 },
      )
      .toContain('Succeeded');
    const row = log.locator('tbody tr').first();
    expect(await row.locator('td').nth(0).textContent()).toBe('webhook.test');
    expect(await row.locator('td').nth(2).textContent()).toBe('1');
    expect(await row.locator('td').nth(3).textContent()).toBe('HTTP 204');
    expect(received).toHaveLength(1);
    expect(received[0]!.headers['webhook-signature']).toMatch(/^v1,/);
    expect(JSON.parse(received[0]!.body)).toMatchObject({ type: 'webhook.test' });
    await screenshot(page, 'webhooks-04-delivered');
    expect(await axeViolations(page)).toEqual([]);

    // On a phone the log's rows stack as label: value, and nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(390);
    await screenshot(page, 'webhooks-05-phone');
    expect(await axeViolations(page)).toEqual([]);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('re-enables a disabled endpoint', async () => {
    // Disabling takes 3 days of failures; the listing is given a disabled endpoint on its way to the page.
    let disabled = true;
    await page.route(`${stack.url}/v1/webhook-endpoints`, async (route) => {
      if (route.request().method() !== 'GET' || !disabled) return route.fallback();
      const response = await route.fetch();
      const body = (await response.json()) as { data: Record<string, unknown>[] };
      for (const endpoint of body.data) {
        endpoint.status = 'disabled';
        endpoint.disabled_reason = 'every delivery failed for 3 days';
      }
      await route.fulfill({ response, json: body });
    });
    try {
      await openView('Overview');
      await openView('Webhooks');
      const item = endpointItem(receiverUrl);
      await item.waitFor();
      expect(await item.textContent()).toContain('Disabled: every delivery failed for 3 days.');
      expect(await item.getByRole('button', { name: `Send test event to ${receiverUrl}` }).isDisabled()).toBe(
        true,
      );
      await screenshot(page, 'webhooks-06-disabled');
      const patches: unknown[] = [];
      page.on('request', (request) => {
        if (request.method() === 'PATCH') patches.push(request.postDataJSON());
      });
      disabled = false;
      await item.getByRole('button', { name: `Re-enable ${receiverUrl}` }).click();
      await expect
        .poll(() => page.locator('#status').textContent())
        .toBe(`Endpoint ${receiverUrl} enabled again.`);
      expect(patches).toEqual([{ enabled: true }]);
      await expect.poll(() => endpointItem(receiverUrl).textContent()).toContain('Enabled, delivering.');
    } finally {
      await page.unroute(`${stack.url}/v1/webhook-endpoints`);
    }
  });

  it('deletes an endpoint only after confirming', async () => {
    const item = endpointItem(receiverUrl);
    await item.getByRole('button', { name: `Delete ${receiverUrl}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this endpoint?' });
    await dialog.waitFor();
    await screenshot(page, 'webhooks-07-confirm-delete');
    expect(await axeViolations(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await endpoints()).toHaveLength(1);

    await item.getByRole('button', { name: `Delete ${receiverUrl}` }).click();
    await dialog.getByRole('button', { name: 'Delete endpoint' }).click();
    await page.getByText('No webhook endpoints yet.', { exact: false }).waitFor();
    await expect.poll(() => page.locator('#status').textContent()).toBe(`Endpoint ${receiverUrl} deleted.`);
    expect(await endpoints()).toEqual([]);
  });
});
