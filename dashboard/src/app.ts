// Dashboard entry: sign-in with a billing token, the navigation, and the hash router that renders one view
// at a time (#overview, #buy, …), so the page is static files and needs no server-side routes.
import {
  ApiError,
  answer,
  type Credits,
  client,
  session,
  signedOut,
  whenUnauthorized,
  withToken,
} from './api.ts';
import { h, tidyTables } from './dom.ts';
import { money } from './format.ts';
import { announce, errorBox, type View, type ViewContext } from './ui.ts';
import { buy, FOLLOWING_KEY, takeCheckoutReturn } from './views/buy.ts';
import { overview } from './views/overview.ts';

/**
 * A view loaded when first opened: its module is a chunk of its own (dashboard/build.ts splits them), so the
 * first page carries only the overview, the sign-in and the buying flow the checkout return needs.
 */
function later(id: string, title: string, shows: View['shows'], load: () => Promise<View>): View {
  return { id, title, shows, render: async (context) => (await load()).render(context) };
}

const prepaid: View['shows'] = (current) => current.billing_mode === 'prepaid';
const always: View['shows'] = () => true;

const views: View[] = [
  overview,
  buy,
  later(
    'auto-refill',
    'Auto-refill',
    prepaid,
    async () => (await import('./views/auto-refill.ts')).autoRefill,
  ),
  later(
    'postpaid',
    'Limit and invoices',
    (current) => current.billing_mode === 'postpaid',
    async () => (await import('./views/postpaid.ts')).postpaid,
  ),
  later('usage', 'Usage', always, async () => (await import('./views/usage.ts')).usage),
  later(
    'transactions',
    'Transactions',
    always,
    async () => (await import('./views/transactions.ts')).transactions,
  ),
  later('tokens', 'Tokens', always, async () => (await import('./views/tokens.ts')).tokens),
  later(
    'notifications',
    'Notifications',
    always,
    async () => (await import('./views/notifications.ts')).notifications,
  ),
  later('webhooks', 'Webhooks', always, async () => (await import('./views/webhooks.ts')).webhooks),
  later('audit', 'Audit', always, async () => (await import('./views/audit.ts')).audit),
  later('prices', 'Prices', always, async () => (await import('./views/prices.ts')).prices),
];

const main = document.getElementById('main')!;
// Slice B (phones): every table labels its cells for the stacked phone layout and scrolls in a focusable region.
tidyTables(main);
const nav = document.getElementById('nav')!;
const chip = document.getElementById('balance-chip')!;
const signOutButton = document.getElementById('sign-out') as HTMLButtonElement;

let credits: Credits | undefined;
let renderCount = 0;

function showChip(current: Credits): void {
  chip.hidden = false;
  chip.textContent =
    current.billing_mode === 'prepaid'
      ? `Balance ${money(current.balance)}`
      : current.billing_mode === 'postpaid'
        ? `This month ${money(current.period_usage ?? 0)}`
        : 'Billed through AWS';
}

async function refreshCredits(): Promise<Credits> {
  const token = session.token();
  const fresh = await answer(client.GET('/v1/credits'));
  // Signed out (or in as someone else) while this was read: the header is no longer this answer's to draw.
  if (!token || session.token() !== token) throw signedOut();
  credits = fresh;
  showChip(credits);
  drawNav(currentView());
  return credits;
}

function currentView(): View {
  const id = location.hash.replace(/^#/, '');
  const visible = views.filter((view) => !credits || view.shows(credits));
  return visible.find((view) => view.id === id) ?? overview;
}

function drawNav(active: View): void {
  nav.hidden = false;
  nav.replaceChildren(
    h(
      'ul',
      {},
      ...views
        .filter((view) => !credits || view.shows(credits))
        .map((view) =>
          h(
            'li',
            {},
            h('a', { href: `#${view.id}`, 'aria-current': view === active ? 'page' : undefined }, view.title),
          ),
        ),
    ),
  );
}

async function route(moveFocus: boolean): Promise<void> {
  if (!session.token() || !credits) return;
  const view = currentView();
  const count = ++renderCount;
  const context: ViewContext = {
    main,
    credits,
    refreshCredits,
    isCurrent: () => count === renderCount,
  };
  drawNav(view);
  // A message from the previous view ("saved", "revoked") would read as news about this one.
  if (moveFocus) document.getElementById('status')!.textContent = '';
  document.title = `${view.title} · Billing dashboard`;
  main.setAttribute('aria-busy', 'true');
  try {
    await view.render(context);
  } catch (error) {
    if (!context.isCurrent()) return;
    main.replaceChildren(
      h('h1', { tabindex: '-1' }, view.title),
      errorBox(error, () => void route(true)),
    );
  } finally {
    if (context.isCurrent()) main.removeAttribute('aria-busy');
  }
  if (moveFocus && context.isCurrent()) main.querySelector<HTMLElement>('h1')?.focus();
}

function signInForm(message?: string): void {
  credits = undefined;
  nav.hidden = true;
  chip.hidden = true;
  signOutButton.hidden = true;
  document.title = 'Sign in · Billing dashboard';
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'token-help',
  });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const problem = h('div', {});
  const form = h(
    'form',
    { class: 'stack sign-in', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'Billing token'), input),
    h(
      'p',
      { class: 'help', id: 'token-help' },
      'A token with the billing scope, starting with crd_. It is kept in this tab only and forgotten when you close it.',
    ),
    submit,
    problem,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      problem.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'Paste your billing token.'));
      input.focus();
      return;
    }
    submit.disabled = true;
    try {
      credits = await answer(client.GET('/v1/credits', withToken(token)), { signingIn: true });
      session.signIn(token);
      await start(true);
      announce('Signed in.');
    } catch (error) {
      problem.replaceChildren(errorBox(error));
      input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  // Slice C (issue 17): back from a payment on another address (or in a new tab), the sign-in is not there.
  const returning = sessionStorage.getItem(FOLLOWING_KEY)?.startsWith('pur_')
    ? h(
        'p',
        { role: 'status', id: 'returning' },
        'Welcome back from the payment page: sign in to see its outcome.',
      )
    : null;
  main.replaceChildren(
    h('h1', { tabindex: '-1' }, 'Sign in'),
    ...(message ? [h('p', { class: 'error', role: 'alert' }, message)] : []),
    ...(returning ? [returning] : []),
    h('section', { class: 'card' }, form),
  );
  input.focus();
}

async function start(moveFocus: boolean): Promise<void> {
  signOutButton.hidden = false;
  if (!credits) {
    try {
      await refreshCredits();
    } catch (error) {
      // whenUnauthorized shows the form after a 401; after a sign-out in between, the form is already there.
      if (error instanceof ApiError && (error.status === 401 || error.code === 'signed_out')) return;
      main.replaceChildren(
        h('h1', { tabindex: '-1' }, 'Billing dashboard'),
        errorBox(error, () => void start(true)),
      );
      return;
    }
  } else {
    showChip(credits);
  }
  await route(moveFocus);
}

whenUnauthorized((error) => {
  session.signOut();
  signInForm(error.message);
});

signOutButton.addEventListener('click', () => {
  session.signOut();
  renderCount++;
  signInForm();
  announce('Signed out.');
});

window.addEventListener('hashchange', () => void route(true));

takeCheckoutReturn();
if (session.token()) void start(false);
else signInForm();
