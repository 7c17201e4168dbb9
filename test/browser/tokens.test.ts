import type { Page, Request } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/server.ts';
import { type InPage, screenshot, signInWithToken, useDashboard, watchConsole } from './browser.ts';

const TIME_ZONE = 'Asia/Kolkata';

const harness = useDashboard('browser-tokens', { context: { timezoneId: TIME_ZONE } });
let stack: LocalStack;
let page: Page;
/** Every token-changing request the page sent (POST /v1/tokens, PATCH /v1/tokens/{id}). */
const sent: Request[] = [];

beforeAll(() => {
  ({ stack, page } = harness);
  page?.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (path.startsWith('/v1/tokens') && request.method() !== 'GET') sent.push(request);
  });
});

type ListedToken = {
  id: string;
  name: string;
  expires_at: string | null;
  spend_limit: { amount: number; reset: string } | null;
  usage: { period_start: string; spent: number; remaining: number | null };
};

async function callApi(method: string, path: string, body?: unknown, bearer = stack.demo!.token) {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function listed(name: string): Promise<ListedToken> {
  const { status, body } = await callApi('GET', '/v1/tokens');
  expect(status).toBe(200);
  const token = (body.data as ListedToken[]).find((entry) => entry.name === name);
  expect(token, `token ${name} in GET /v1/tokens`).toBeDefined();
  return token!;
}

async function openView(name: string) {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

/** The Tokens view drawn afresh (it reads GET /v1/tokens when it opens). */
async function reopenTokens() {
  await openView('Overview');
  await openView('Tokens');
  await page.getByRole('table').waitFor();
}

/** A UTC day some days from now, `YYYY-MM-DD`. */
function dayFromNow(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

/** How the list writes an expiry day, in the browser's time zone. */
function expiryText(iso: string): string {
  const day = new Intl.DateTimeFormat('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: TIME_ZONE,
  }).format(new Date(iso));
  return `expires ${day}`;
}

const row = (name: string) =>
  page.getByRole('row').filter({ has: page.getByRole('cell', { name, exact: true }) });

async function focusedLabel(): Promise<string | null> {
  return page.evaluate(
    () => (globalThis as unknown as InPage).document.activeElement?.getAttribute('aria-label') ?? null,
  );
}

const expiryDay = dayFromNow(40);
// 10:00 in Kolkata is 04:30 UTC.
const expiryIso = `${expiryDay}T04:30:00.000Z`;
let secret = '';

describe('dashboard Tokens view: spend limits, expiry and spend per token', () => {
  it('creates a token with a weekly spend limit and an expiry typed in local time', async () => {
    await page.goto(`${stack.url}/`);
    await signInWithToken(page, stack.demo!.token);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await openView('Tokens');

    await page.getByLabel('Token name').fill('team-search');
    await page.getByLabel('Limit (USD)').fill('5');
    await page.getByLabel('Resets').selectOption({ label: 'Per week (from Monday, UTC)' });
    await page.getByLabel('Expires (your local time)').fill(`${expiryDay}T10:00`);
    await page.getByRole('button', { name: 'Create token' }).click();
    const secretBox = page.getByLabel('Your new token');
    await secretBox.waitFor();
    secret = await secretBox.inputValue();
    expect(secret).toMatch(/^crd_/);

    const created = row('team-search');
    await created.waitFor();
    expect(await created.textContent()).toContain('$0.00 of $5.00 this week');
    expect(await created.textContent()).toContain(expiryText(expiryIso));
    const meter = created.getByRole('meter');
    expect(await meter.getAttribute('aria-label')).toBe('Spend of team-search: $0.00 of $5.00 this week');
    expect(await meter.getAttribute('max')).toBe('5');
    await expect.poll(() => page.locator('#status').textContent()).toContain('spend limit $5.00 a week');
    // The form is empty again for the next token.
    expect(await page.getByLabel('Limit (USD)').inputValue()).toBe('');

    const token = await listed('team-search');
    expect(token.spend_limit).toEqual({ amount: 5, reset: 'weekly' });
    expect(token.expires_at).toBe(expiryIso);
    expect(token.usage.spent).toBe(0);
    await screenshot(page, 'tokens-01-created-with-limit');
  });

  it('shows the spend of a paid call made with the token against its limit', async () => {
    // The demo catalog's echo costs $0.002 a call.
    expect((await callApi('POST', '/v1/demo/echo', { text: 'hello' }, secret)).status).toBe(200);
    await reopenTokens();
    const listedRow = row('team-search');
    expect(await listedRow.textContent()).toContain('$0.002 of $5.00 this week');
    expect(await listedRow.getByRole('meter').getAttribute('value')).toBe('0.002');
    const token = await listed('team-search');
    expect(token.usage.spent).toBe(0.002);
    expect(token.usage.remaining).toBe(4.998);
  });

  it('Escape cancels the edit dialog, changes nothing and gives focus back to its button', async () => {
    sent.length = 0;
    await page.getByRole('button', { name: 'Edit team-search' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit “team-search”' });
    await dialog.waitFor();
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.getAttribute('id')),
    ).toBe('edit-token-name');
    await dialog.getByLabel('Limit (USD)').fill('1');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await focusedLabel()).toBe('Edit team-search');
    expect(sent).toEqual([]);
    expect((await listed('team-search')).spend_limit).toEqual({ amount: 5, reset: 'weekly' });
  });

  it('changes the name and the limit in the edit dialog; the list and GET /v1/tokens agree', async () => {
    sent.length = 0;
    await page.getByRole('button', { name: 'Edit team-search' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit “team-search”' });
    await dialog.waitFor();
    expect(await dialog.getByLabel('Limit (USD)').inputValue()).toBe('5');
    expect(await dialog.getByLabel('Expires (your local time)').inputValue()).toBe(`${expiryDay}T10:00`);
    await dialog.getByLabel('Token name').fill('team-search-eu');
    await dialog.getByLabel('Limit (USD)').fill('2.5');
    await dialog.getByLabel('Resets').selectOption('daily');
    await screenshot(page, 'tokens-02-edit-dialog');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'detached' });

    // Only what changed was sent: the expiry was left as it was.
    expect(sent.map((request) => [request.method(), request.postDataJSON()])).toEqual([
      ['PATCH', { name: 'team-search-eu', spend_limit: { amount: 2.5, reset: 'daily' } }],
    ]);
    const edited = row('team-search-eu');
    await expect.poll(() => edited.textContent()).toContain('$0.002 of $2.50 today');
    expect(await edited.textContent()).toContain(expiryText(expiryIso));
    await expect
      .poll(() => page.locator('#status').textContent())
      .toBe(`Token “team-search-eu” updated: spend limit $2.50 a day, ${expiryText(expiryIso)}.`);
    await expect.poll(focusedLabel).toBe('Edit team-search-eu');

    const token = await listed('team-search-eu');
    expect(token.spend_limit).toEqual({ amount: 2.5, reset: 'daily' });
    expect(token.expires_at).toBe(expiryIso);
    // A changed reset carries what was spent into the new kind of period.
    expect(token.usage.spent).toBe(0.002);
    await screenshot(page, 'tokens-03-edited');
  });

  it('removes the limit and the expiry; the spend then reads against the month', async () => {
    // Without a limit the spend comes from the usage rollups, which follow the ledger through the stream.
    await stack.drainStream();
    await page.getByRole('button', { name: 'Edit team-search-eu' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit “team-search-eu”' });
    await dialog.waitFor();
    await dialog.getByLabel('Limit (USD)').fill('');
    await dialog.getByLabel('Expires (your local time)').fill('');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'detached' });

    const edited = row('team-search-eu');
    await expect.poll(() => edited.textContent()).toContain('never expires');
    expect(await edited.textContent()).toContain('$0.002 this month');
    expect(await edited.textContent()).not.toContain(' of $');
    expect(await edited.getByRole('meter').count()).toBe(0);
    await expect
      .poll(() => page.locator('#status').textContent())
      .toBe('Token “team-search-eu” updated: no spend limit, never expires.');
    const token = await listed('team-search-eu');
    expect(token.spend_limit).toBeNull();
    expect(token.expires_at).toBeNull();
    expect(token.usage.remaining).toBeNull();
  });

  it('shows bad amounts and expiries next to their fields and sends nothing', async () => {
    sent.length = 0;
    await page.getByLabel('Token name').fill('bad-limits');
    const amount = page.getByLabel('Limit (USD)');
    const expires = page.getByLabel('Expires (your local time)');
    for (const [typed, problem] of [
      ['0', 'above $0'],
      ['-3', 'at most six decimals'],
      ['1.1234567', 'at most six decimals'],
      ['five', 'at most six decimals'],
    ] as const) {
      await amount.fill(typed);
      await page.getByRole('button', { name: 'Create token' }).click();
      expect(await page.locator('#token-limit-amount-problem').textContent(), typed).toContain(problem);
      expect(await amount.getAttribute('aria-invalid')).toBe('true');
      expect(
        await page.evaluate(() =>
          (globalThis as unknown as InPage).document.activeElement?.getAttribute('id'),
        ),
      ).toBe('token-limit-amount');
    }
    await amount.fill('0.000001');
    for (const [typed, problem] of [
      [`${dayFromNow(-1)}T10:00`, 'in the future'],
      [`${dayFromNow(6 * 366)}T10:00`, 'at most 5 years ahead'],
    ] as const) {
      await expires.fill(typed);
      await page.getByRole('button', { name: 'Create token' }).click();
      expect(await page.locator('#token-expiry-problem').textContent(), typed).toContain(problem);
      expect(await expires.getAttribute('aria-invalid')).toBe('true');
      expect(await page.locator('#token-limit-amount-problem').count()).toBe(0);
    }
    expect(sent).toEqual([]);

    // In the edit dialog too.
    await page.getByRole('button', { name: 'Edit team-search-eu' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit “team-search-eu”' });
    await dialog.getByLabel('Limit (USD)').fill('1.2345678');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    expect(await dialog.locator('#edit-limit-amount-problem').textContent()).toContain(
      'at most six decimals',
    );
    expect(await dialog.isVisible()).toBe(true);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(sent).toEqual([]);
    await expires.fill('');
    await amount.fill('');
  });

  it("places the API's 400 next to the field it names", async () => {
    sent.length = 0;
    // Above the API's largest amount (1,000,000,000 USD): the page does not know that bound, the API says it.
    await page.getByLabel('Token name').fill('too-large');
    await page.getByLabel('Limit (USD)').fill('2000000000');
    await page.getByRole('button', { name: 'Create token' }).click();
    const problem = page.locator('#token-limit-amount-problem');
    await problem.waitFor();
    expect(await problem.textContent()).toBe('Larger than 1000000000 USD.');
    expect(await page.getByLabel('Limit (USD)').getAttribute('aria-invalid')).toBe('true');
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.getAttribute('id')),
    ).toBe('token-limit-amount');
    expect(sent.map((request) => request.method())).toEqual(['POST']);
    expect(await row('too-large').count()).toBe(0);
    // Chromium logs the refused fetch as a console error; this 400 is the one this test provokes.
    expect(harness.problems.every((entry) => /status of 400/.test(entry.text))).toBe(true);
    harness.problems.length = 0;
    await page.getByLabel('Limit (USD)').fill('');
    await page.getByLabel('Token name').fill('');
  });

  it('says "expired" once a token\'s expiry has passed', async () => {
    const soon = new Date(Date.now() + 10 * 60_000).toISOString();
    expect((await callApi('POST', '/v1/tokens', { name: 'short-lived', expires_at: soon })).status).toBe(201);
    await reopenTokens();
    expect(await row('short-lived').textContent()).toContain(expiryText(soon));
    // The page's own clock, an hour on (its own tab, so the other tests keep the real time).
    const later = await harness.context.newPage();
    const laterProblems = watchConsole(later, stack.url);
    try {
      await later.clock.setFixedTime(new Date(Date.now() + 60 * 60_000));
      await later.goto(`${stack.url}/`);
      await signInWithToken(later, stack.demo!.token);
      await later.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      await later
        .getByRole('navigation', { name: 'Dashboard' })
        .getByRole('link', { name: 'Tokens' })
        .click();
      const expired = later
        .getByRole('row')
        .filter({ has: later.getByRole('cell', { name: 'short-lived', exact: true }) });
      await expired.waitFor();
      expect(await expired.locator('time').textContent()).toBe('expired');
      expect(await expired.locator('time').getAttribute('datetime')).toBe(soon);
      expect(laterProblems).toEqual([]);
    } finally {
      await later.close();
    }
  });

  it('labels every control (the dialog too) and fits a phone-sized screen', async () => {
    const unlabelled = () =>
      page.evaluate(() =>
        [...(globalThis as unknown as InPage).document.querySelectorAll('input, select, button, meter')]
          .filter((element) => {
            const name = element.labels?.length
              ? element.labels[0]!.textContent
              : (element.getAttribute('aria-label') ?? element.textContent);
            return !name?.trim();
          })
          .map((control) => control.outerHTML),
      );
    // A limited token, so the list has a meter.
    expect(
      (await callApi('POST', '/v1/tokens', { name: 'capped', spend_limit: { amount: 1, reset: 'never' } }))
        .status,
    ).toBe(201);
    await page.setViewportSize({ width: 390, height: 844 });
    await reopenTokens();
    expect(await row('capped').textContent()).toContain('$0.00 of $1.00 in total');
    expect(await unlabelled()).toEqual([]);
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(390);
    await screenshot(page, 'tokens-04-phone');
    await page.getByRole('button', { name: 'Edit capped' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit “capped”' });
    await dialog.waitFor();
    expect(await unlabelled()).toEqual([]);
    const box = await dialog.boundingBox();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    await screenshot(page, 'tokens-05-phone-dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await focusedLabel()).toBe('Edit capped');
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
