// The dashboard on a phone (issue 17, slice B) in a real browser against the local stack: no view scrolls
// sideways at 360 or 390 px, tables read as stacked "label: value" rows (Buy's purchase history, Usage's
// figures, Tokens with its Revoke button on screen) and scroll in focusable, labelled regions when wide; the
// chart is laid out for the width it gets (12 px axis text, not scaled down), its bars take focus and name
// their day, feature and amount; Usage lists only periods with usage, keeps the week label whole and
// catches a range that ends before it begins next to the field.
import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/server.ts';
import { screenshot, signInWithToken, useDashboard } from './browser.ts';

const harness = useDashboard('phones', { context: { viewport: { width: 390, height: 844 } } });
let stack: LocalStack;
let page: Page;

/** The few browser globals these tests read inside `page.evaluate` (they compile without the DOM library). */
type Box = { x: number; y: number; width: number; height: number };
type El = {
  tagName: string;
  parentElement: El | null;
  textContent: string | null;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): Box;
  querySelectorAll(selector: string): Iterable<El>;
  querySelector(selector: string): El | null;
  closest(selector: string): El | null;
};
type Doc = {
  document: {
    documentElement: { scrollWidth: number; clientWidth: number };
    activeElement: El | null;
    querySelector(selector: string): El | null;
    querySelectorAll(selector: string): Iterable<El>;
  };
  getComputedStyle(element: El, pseudo?: string): { fontSize: string; display: string; content: string };
};

beforeAll(() => {
  ({ stack, page } = harness);
});

const token = () => stack.demo!.token;
const today = () => new Date().toISOString().slice(0, 10);
const dayLabel = (isoDay: string) =>
  new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' }).format(
    new Date(`${isoDay}T00:00:00Z`),
  );

async function callApi(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Opens a view from the navigation and waits until it has drawn what it loads. */
async function openView(name: string) {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name, exact: true }).click();
  await page.locator('main h1').filter({ hasText: name }).waitFor();
  await page.locator('main:not([aria-busy])').waitFor();
}

const overflow = () =>
  page.evaluate(() => {
    const { documentElement } = (globalThis as unknown as Doc).document;
    return { scrollWidth: documentElement.scrollWidth, clientWidth: documentElement.clientWidth };
  });

/** Every table in the page: its cells' labels against its headers, whether rows stack, and its region. */
const tables = () =>
  page.evaluate(() => {
    const w = globalThis as unknown as Doc;
    return [...w.document.querySelectorAll('main table')].map((table) => {
      const headers = [...table.querySelectorAll('thead th')].map((th) => th.textContent?.trim() ?? '');
      const region = table.parentElement!;
      return {
        caption: table.querySelector('caption')?.textContent ?? '',
        headers,
        labels: [...table.querySelectorAll('tbody tr')].map((row) =>
          [...row.querySelectorAll('td, th')].map((cell) => cell.getAttribute('data-label')),
        ),
        before: [...table.querySelectorAll('tbody td')]
          .slice(0, 1)
          .map((td) => [
            w.getComputedStyle(td, '::before').content,
            JSON.stringify(td.getAttribute('data-label')),
          ]),
        cellDisplay: [...table.querySelectorAll('tbody td')]
          .slice(0, 1)
          .map((td) => w.getComputedStyle(td).display),
        region: {
          role: region.getAttribute('role'),
          tabindex: region.getAttribute('tabindex'),
          label: region.getAttribute('aria-label'),
        },
      };
    });
  });

/** The chart's drawn width against its rendered width, and each axis label's actual font size and box. */
const chartLayout = (selector: string) =>
  page.evaluate((selector) => {
    const w = globalThis as unknown as Doc;
    const svg = w.document.querySelector(selector)!;
    const drawn = Number(svg.getAttribute('viewBox')!.split(' ')[2]);
    const box = svg.getBoundingClientRect();
    const scale = box.width / drawn;
    return {
      drawn,
      rendered: box.width,
      container: svg.parentElement!.getBoundingClientRect().width,
      axis: [...svg.querySelectorAll('text.axis')].map((text) => {
        const at = text.getBoundingClientRect();
        return {
          text: text.textContent,
          px: Number.parseFloat(w.getComputedStyle(text).fontSize) * scale,
          inside: at.x >= box.x - 0.5 && at.x + at.width <= box.x + box.width + 0.5,
        };
      }),
    };
  }, selector);

describe('the dashboard on a phone', () => {
  it('signs in at 390 px with some usage, a purchase and a second token', async () => {
    for (let i = 0; i < 3; i++)
      expect((await callApi('POST', '/v1/demo/echo', { text: `c${i}` })).status).toBe(200);
    expect((await callApi('POST', '/v1/demo/words', { text: 'one two' })).status).toBe(200);
    await stack.drainStream();
    const checkout = await callApi(
      'POST',
      '/v1/billing/checkout',
      { amount: 25, return_url: `${stack.url}/` },
      { 'idempotency-key': randomUUID() },
    );
    expect(checkout.status).toBeLessThan(300);
    expect(
      (await callApi('POST', '/v1/tokens', { name: 'a rather long token name for a phone', scopes: ['api'] }))
        .status,
    ).toBe(201);

    await page.goto(`${stack.url}/`);
    await signInWithToken(page, token());
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  });

  it('scrolls no view sideways at 360, 390 or 1280 px; every table stacks below 600 px, with labelled cells', async () => {
    const views = await page
      .getByRole('navigation', { name: 'Dashboard' })
      .getByRole('link')
      .allTextContents();
    expect(views).toEqual(
      expect.arrayContaining(['Overview', 'Buy credits', 'Usage', 'Transactions', 'Tokens']),
    );
    for (const width of [360, 390, 1280]) {
      await page.setViewportSize({ width, height: width < 600 ? 844 : 900 });
      for (const view of views) {
        await openView(view);
        const { scrollWidth, clientWidth } = await overflow();
        expect(scrollWidth, `${view} at ${width} px`).toBeLessThanOrEqual(clientWidth);
        for (const table of await tables()) {
          // Each body cell names its column, so a stacked row reads "Amount: $25.00".
          for (const labels of table.labels)
            expect(labels, `${view}: ${table.caption}`).toEqual(table.headers.slice(0, labels.length));
          if (table.labels.length && width >= 600) {
            // Wide enough, a table is a table; it scrolls in its region if it must.
            expect(table.cellDisplay, `${view}: ${table.caption}`).toEqual(['table-cell']);
          } else if (table.labels.length) {
            expect(table.cellDisplay, `${view}: ${table.caption}`).toEqual(['flow-root']);
            const [shown, label] = table.before[0]!;
            expect(shown, `${view}: ${table.caption}`).toBe(`${label} / ""`);
          }
          expect(table.region, `${view}: ${table.caption}`).toEqual({
            role: 'region',
            tabindex: '0',
            label: table.caption,
          });
        }
        if (width === 390) await screenshot(page, `phone-${view.toLowerCase().replace(/[^a-z]+/g, '-')}`);
      }
    }
  });

  it('shows the purchase history as stacked rows and keeps Revoke on screen on Tokens', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await openView('Buy credits');
    const history = page.getByRole('table', { name: 'Purchases, newest first' });
    await history.waitFor();
    // Stacked, the table is still a table to assistive technology: its rows and cells keep their roles.
    await expect.poll(() => history.getByRole('row').count()).toBe(2);
    expect(await history.getByRole('columnheader', { name: 'Amount' }).count()).toBe(1);
    expect(await history.getByRole('cell', { name: '$25.00', exact: true }).count()).toBe(1);
    const amount = history.locator('td[data-label="Amount"]').first();
    expect(await amount.textContent()).toBe('$25.00');
    const box = (await amount.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(390);

    await openView('Tokens');
    const revoke = page.getByRole('button', { name: /^Revoke a rather long token name/ });
    await revoke.scrollIntoViewIfNeeded();
    const at = (await revoke.boundingBox())!;
    expect(at.x).toBeGreaterThanOrEqual(0);
    expect(at.x + at.width).toBeLessThanOrEqual(390);
    await revoke.focus();
    expect(
      await page.evaluate(() => (globalThis as unknown as Doc).document.activeElement?.textContent),
    ).toBe('Revoke');
    await screenshot(page, 'phone-tokens-revoke');
  });

  it('lays the chart out for its width: axis labels at least 11 px on a phone, redrawn on resize', async () => {
    await openView('Overview');
    const chart = page.locator('svg#spend-chart');
    await chart.waitFor();
    const phone = await chartLayout('svg#spend-chart');
    expect(phone.drawn).toBeLessThanOrEqual(390);
    expect(Math.abs(phone.rendered - phone.drawn)).toBeLessThan(1);
    expect(phone.container - phone.drawn).toBeLessThan(1);
    expect(phone.axis.length).toBeGreaterThan(3);
    for (const label of phone.axis) {
      expect(label.px, String(label.text)).toBeGreaterThanOrEqual(11);
      expect(label.inside, String(label.text)).toBe(true);
    }

    await page.setViewportSize({ width: 1280, height: 900 });
    await expect.poll(async () => (await chartLayout('svg#spend-chart')).drawn).toBeGreaterThan(800);
    const desktop = await chartLayout('svg#spend-chart');
    expect(Math.abs(desktop.rendered - desktop.drawn)).toBeLessThan(1);
    for (const label of desktop.axis) expect(label.px, String(label.text)).toBeGreaterThanOrEqual(11);
    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(async () => (await chartLayout('svg#spend-chart')).drawn).toBeLessThanOrEqual(390);
    await screenshot(page, 'phone-overview-chart');
  });

  it('lets the keyboard reach each bar, which names its day, feature and amount and shows a tooltip', async () => {
    // The overview's warnings arrive after the chart and move it: let the page settle before the keys.
    await page.waitForLoadState('networkidle');
    const chart = page.locator('svg#spend-chart');
    const echo = page.getByRole('img', { name: `${dayLabel(today())}, echo: $0.006`, exact: true });
    expect(await echo.getAttribute('tabindex')).toBe('0');
    expect(await echo.locator('title').textContent()).toBe(`${dayLabel(today())}, echo: $0.006`);
    await echo.focus();
    const tip = page.locator('.chart-tip');
    expect(await tip.isVisible()).toBe(true);
    expect(await tip.textContent()).toBe(`${dayLabel(today())}, echo: $0.006`);
    const tipBox = (await tip.boundingBox())!;
    expect(tipBox.x).toBeGreaterThanOrEqual(0);
    expect(tipBox.x + tipBox.width).toBeLessThanOrEqual(390);
    await screenshot(page, 'phone-chart-bar-focused');
    // The keyboard goes on to the day's other feature (the next or the previous stop, by the stacking order),
    // and the tooltip follows.
    const labels = await page.evaluate(() =>
      [
        ...(
          globalThis as unknown as {
            document: { querySelectorAll(q: string): { getAttribute(n: string): string | null }[] };
          }
        ).document.querySelectorAll('svg#spend-chart [tabindex="0"]'),
      ].map((element) => element.getAttribute('aria-label')),
    );
    const echoAt = labels.indexOf(`${dayLabel(today())}, echo: $0.006`);
    const wordsAt = labels.indexOf(`${dayLabel(today())}, words: $0.0002`);
    expect(Math.abs(echoAt - wordsAt)).toBe(1);
    await page.keyboard.press(wordsAt > echoAt ? 'Tab' : 'Shift+Tab');
    const focused = await page.evaluate(
      () => (globalThis as unknown as Doc).document.activeElement?.getAttribute('aria-label') ?? null,
    );
    expect(focused).toBe(`${dayLabel(today())}, words: $0.0002`);
    expect(await tip.textContent()).toBe(focused);
    // A redraw (the width changed) keeps the focused bar focused.
    await page.setViewportSize({ width: 360, height: 844 });
    await expect.poll(async () => (await chartLayout('svg#spend-chart')).drawn).toBeLessThanOrEqual(360);
    expect(
      await page.evaluate(
        () => (globalThis as unknown as Doc).document.activeElement?.getAttribute('aria-label') ?? null,
      ),
    ).toBe(focused);
    await page.setViewportSize({ width: 390, height: 844 });
    // The figures table stays.
    expect(await chart.locator('xpath=ancestor::figure//table').count()).toBe(1);
  });

  it('lists only the periods with usage by default, or says there was none', async () => {
    await openView('Usage');
    const figures = page.locator('#usage-chart').locator('xpath=ancestor::figure//table');
    await figures.waitFor();
    // 30 days in the chart, one of them with usage: one row, not 29 rows of $0.00.
    expect(await page.locator('svg#usage-chart g.bar').count()).toBe(30);
    expect(await figures.locator('tbody tr').count()).toBe(1);
    expect(await figures.locator('tbody tr td').first().textContent()).toBe(dayLabel(today()));
    expect(await figures.textContent()).not.toMatch(/\$0\.00(?!\d)/);

    await page.getByLabel('From').fill('2020-01-01');
    await page.getByLabel('To', { exact: true }).fill('2020-01-31');
    await page.getByRole('button', { name: 'Show usage' }).click();
    await expect.poll(() => page.locator('#usage-empty').textContent()).toBe('No usage in this range.');
    expect(await page.locator('#usage-chart').count()).toBe(0);
    await screenshot(page, 'phone-usage-empty');
  });

  it('keeps the week label whole, in the table and on the axis, at 390 px and 1280 px', async () => {
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      await openView('Overview');
      await openView('Usage');
      await page.locator('#usage-chart').waitFor();
      await page.getByLabel('Group by').selectOption('week');
      await page.getByRole('button', { name: 'Show usage' }).click();
      const figures = page.locator('#usage-chart').locator('xpath=ancestor::figure//table');
      await expect.poll(() => figures.locator('tbody td').first().textContent()).toMatch(/^Week of /);
      expect(await figures.locator('tbody tr').count()).toBe(1);
      const week = (await figures.locator('tbody td').first().textContent()) ?? '';
      expect(week).toMatch(/^Week of [A-Z][a-z]{2} \d{1,2}, \d{4}$/);
      const cell = (await figures.locator('tbody td').first().boundingBox())!;
      expect(cell.x + cell.width).toBeLessThanOrEqual(width);
      const layout = await chartLayout('svg#usage-chart');
      for (const label of layout.axis) {
        expect(label.inside, `${label.text} at ${width} px`).toBe(true);
        expect(label.px).toBeGreaterThanOrEqual(11);
      }
      const { scrollWidth, clientWidth } = await overflow();
      expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
      await screenshot(page, `usage-week-${width}`);
    }
    await page.setViewportSize({ width: 390, height: 844 });
  });

  it('catches a range that ends before it begins next to the field, without asking the server', async () => {
    await openView('Usage');
    const asked: string[] = [];
    const listen = (request: { url(): string }) => {
      if (request.url().includes('/v1/usage')) asked.push(request.url());
    };
    page.on('request', listen);
    await page.getByLabel('From').fill('2026-03-10');
    await page.getByLabel('To', { exact: true }).fill('2026-03-01');
    await page.getByRole('button', { name: 'Show usage' }).click();
    const to = page.getByLabel('To', { exact: true });
    await expect.poll(() => to.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#usage-end-problem').textContent()).toBe(
      'The range ends before it begins: choose a day on or after Mar 10, 2026.',
    );
    expect(await to.getAttribute('aria-describedby')).toContain('usage-end-problem');
    expect(await page.getByRole('alert').count()).toBe(0);
    expect(asked).toEqual([]);
    await screenshot(page, 'phone-usage-range-problem');

    // Put right, the message goes and the figures come.
    await to.fill('2026-03-20');
    await page.getByRole('button', { name: 'Show usage' }).click();
    await expect
      .poll(() => page.locator('#usage-total').textContent())
      .toContain('from Mar 10, 2026 to Mar 20, 2026');
    expect(await to.getAttribute('aria-invalid')).toBeNull();
    expect(await page.locator('#usage-end-problem').count()).toBe(0);
    page.off('request', listen);
    expect(asked).toHaveLength(1);
  });
});
