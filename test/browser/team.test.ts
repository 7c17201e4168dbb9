// Team access in the browser (issue 18): people sign in by email through the local mail catcher, a Billing
// member buys credits, a Viewer cannot (the page says why, and the API refuses the session), an owner of two
// accounts picks one and switches between them, owners manage members, and a used link says so.
import type { Page } from 'playwright-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/server.ts';
import { stackClient } from '../support/http.ts';
import { axeViolations } from './axe.ts';
import { type ConsoleProblem, type InPage, screenshot, useDashboard, watchConsole } from './browser.ts';

const ADMIN = 'browser-admin';

// bypassCSP: axe-core is injected as an inline script, which the page's policy refuses.
const harness = useDashboard('browser-team', {
  stack: { adminApiKey: ADMIN, seedDemo: false },
  context: { bypassCSP: true },
});
let stack: LocalStack;
let page: Page;
let acme: { account_id: string; token: string };
let beta: { account_id: string; token: string };

const http = stackClient(() => stack.url, ADMIN);
/**
 * The stack's public address (localhost), where the emailed links point and the session cookie is set: the
 * tab works there, as a person following the link does. Its console is watched like the harness's.
 */
const site = () => stack.url.replace('127.0.0.1', 'localhost');
let siteProblems: ConsoleProblem[] = [];
afterEach(() => {
  expect(siteProblems.splice(0), 'console errors on the dashboard (public address)').toEqual([]);
});

const OWNER = 'owner@acme.test';
const FINANCE = 'finance@acme.test';
const ENGINEER = 'eng@acme.test';

beforeAll(async () => {
  ({ stack, page } = harness);
  if (!stack) return;
  siteProblems = watchConsole(page, site());
  const first = await http('POST', '/admin/accounts', { admin: true, body: { name: 'Acme', email: OWNER } });
  const second = await http('POST', '/admin/accounts', { admin: true, body: { name: 'Beta', email: OWNER } });
  expect([first.status, second.status]).toEqual([201, 201]);
  acme = first.body;
  beta = second.body;
  for (const [email, role] of [
    [FINANCE, 'billing'],
    [ENGINEER, 'viewer'],
  ]) {
    const invited = await http('POST', '/v1/members', { token: acme.token, body: { email, role } });
    expect(invited.status).toBe(201);
  }
  // Beta gets a balance of its own, so switching shows a different figure.
  const grant = await http('POST', `/admin/accounts/${beta.account_id}/credits`, {
    admin: true,
    body: { amount: 7, reason: 'welcome' },
  });
  expect(grant.status).toBe(201);
});

type Mail = { to: string[]; subject: string; text: string; sent_at: string };

/** The newest sign-in link the mail catcher holds for `email`. */
async function linkFor(email: string, after: string): Promise<string> {
  let link: string | undefined;
  await expect
    .poll(
      async () => {
        const caught = await http('GET', '/__local/mail', { admin: true });
        const mail = (caught.body.data as Mail[]).find(
          (entry) =>
            entry.to.includes(email) && entry.sent_at >= after && /\/auth\/callback\?token=/.test(entry.text),
        );
        link = mail?.text.match(/https?:\/\/\S+\/auth\/callback\?token=[\w-]+/)?.[0];
        return link;
      },
      { timeout: 10_000 },
    )
    .toBeTruthy();
  return link!;
}

/** Signs in as `email` the way a person does: asks for a link, opens it from the mailbox. */
async function signInByEmail(email: string): Promise<string> {
  await page.goto(`${site()}/`);
  const asked = new Date().toISOString();
  await page.getByLabel('Work email').fill(email);
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
  await page.locator('#link-sent').waitFor();
  const link = await linkFor(email, asked);
  expect(link.startsWith(`${site()}/auth/callback?token=`)).toBe(true);
  await page.goto(link);
  return link;
}

async function signOut(): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Work email').waitFor();
}

async function openView(name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

async function sessionCookie(): Promise<string> {
  const cookie = (await page.context().cookies()).find((entry) => entry.name.endsWith('credits_session'));
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe('Strict');
  return `${cookie!.name}=${cookie!.value}`;
}

describe('team access in the dashboard', () => {
  it('the sign-in page offers email first and the token second, with no accessibility violations', async () => {
    await page.goto(`${site()}/`);
    await page.getByLabel('Work email').waitFor();
    expect(await page.locator('details.token-sign-in').getAttribute('open')).toBeNull();
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'team-01-sign-in');
  });

  it('a Billing member signs in by email and buys credits', async () => {
    await signInByEmail(FINANCE);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(await page.locator('#who').textContent()).toContain(`${FINANCE} · Billing`);
    await openView('Buy credits');
    await page.getByLabel('$25.00').check();
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.waitForURL((url) => url.href.startsWith(stack.stripe!.url));
    await page.getByLabel('Card number').fill('4242424242424242');
    await page.getByRole('button', { name: 'Pay $25.00' }).click();
    await page.waitForURL((url) => url.href.startsWith(site()) && url.hash === '#buy');
    await page.locator('#purchase-outcome').waitFor({ timeout: 15_000 });
    await expect
      .poll(async () => (await http('GET', '/v1/credits', { token: acme.token })).body.balance, {
        timeout: 15_000,
      })
      .toBe(25);
    await screenshot(page, 'team-02-billing-member-bought');
    await signOut();
  });

  it('a Viewer sees why Buy is not theirs, and the API refuses their session', async () => {
    await signInByEmail(ENGINEER);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await openView('Buy credits');
    const notice = page.locator('.role-notice');
    expect(await notice.textContent()).toBe(
      'The Buy credits page needs the Billing or Owner role. You are a Viewer of this account: ask an owner if you need more.',
    );
    expect(await page.getByRole('button', { name: 'Continue to payment' }).count()).toBe(0);
    const cookie = await sessionCookie();
    const refused = await http('POST', '/v1/billing/checkout', {
      headers: { cookie, 'x-requested-with': 'credits-dashboard' },
      body: { amount: 10 },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('forbidden');
    // Reading is the viewer's: the same session reads the balance.
    const credits = await http('GET', '/v1/credits', { headers: { cookie } });
    expect(credits.status).toBe(200);
    expect(credits.body.balance).toBe(25);
    await screenshot(page, 'team-03-viewer-cannot-buy');
    await signOut();
  });

  it('an owner of two accounts picks one, then switches between them', async () => {
    await signInByEmail(OWNER);
    await page.getByRole('heading', { level: 1, name: 'Choose an account' }).waitFor();
    await screenshot(page, 'team-04-choose-account');
    await page.getByRole('button', { name: 'Beta · Owner' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await expect.poll(() => page.locator('#balance-chip').textContent()).toBe('Balance $7.00');
    await page.getByLabel('Account').selectOption(acme.account_id);
    await expect.poll(() => page.locator('#balance-chip').textContent()).toBe('Balance $25.00');
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'team-05-switched');
  });

  it('an owner invites, changes a role and removes a member; the last owner is kept', async () => {
    await openView('Members');
    const members = page.getByRole('table', { name: 'Members of this account' });
    await members.waitFor();
    await page.getByLabel('Email', { exact: true }).fill('new@acme.test');
    await page.getByLabel('Role', { exact: true }).selectOption('billing');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await expect.poll(() => members.getByRole('row', { name: /new@acme\.test/ }).count()).toBe(1);
    await page.getByLabel('Role of new@acme.test').selectOption('viewer');
    await expect
      .poll(async () => {
        const listed = await http('GET', '/v1/members', { token: acme.token });
        return listed.body.data.find((member: { email: string }) => member.email === 'new@acme.test')?.role;
      })
      .toBe('viewer');
    // Demoting the only owner is refused, and the reason is shown.
    await page.getByLabel(`Role of ${OWNER}`).selectOption('billing');
    // The refusal's own alert: another alert on the page (a banner) may come first, so match it by its text.
    await page.getByRole('alert').filter({ hasText: 'An account keeps at least one owner' }).waitFor();
    expect(await page.getByLabel(`Role of ${OWNER}`).inputValue()).toBe('owner');
    // Chromium logs the refused PATCH: the one console error this step provokes.
    const refused = siteProblems.splice(0);
    expect(refused.map((problem) => problem.text)).toEqual([
      'Failed to load resource: the server responded with a status of 409 (Conflict)',
    ]);
    await page.getByRole('button', { name: 'Remove new@acme.test' }).click();
    await page
      .getByRole('dialog', { name: 'Remove new@acme.test?' })
      .getByRole('button', { name: 'Remove member' })
      .click();
    await expect.poll(() => members.getByRole('row', { name: /new@acme\.test/ }).count()).toBe(0);
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'team-06-members');
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await axeViolations(page)).toEqual([]);
    const wide = await page.evaluate(
      () => (globalThis as unknown as InPage).document.documentElement.scrollWidth,
    );
    expect(wide).toBeLessThanOrEqual(390);
    await screenshot(page, 'team-07-members-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
    await signOut();
  });

  it('a link used twice is refused the second time with a page saying so', async () => {
    const link = await signInByEmail(ENGINEER);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await signOut();
    const again = await page.goto(link);
    expect(again?.status()).toBeGreaterThanOrEqual(400);
    expect(await page.locator('body').textContent()).toMatch(/already used/i);
    await page.getByRole('link', { name: /new sign-in link/i }).waitFor();
    // The refusal page is the API's (410), not the dashboard; Chromium logs its status. The page names an
    // empty icon, so no /favicon.ico request follows (its 404 used to arrive after this check, at random).
    const logged = siteProblems.splice(0).map((problem) => new URL(problem.url).pathname);
    expect(logged.filter((path) => path !== '/auth/callback')).toEqual([]);
    await screenshot(page, 'team-08-used-link');
  });
});
