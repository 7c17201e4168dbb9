// Dashboard entry: sign-in (by email link, or with a billing token), the account switcher, the navigation,
// and the hash router that renders one view at a time (#overview, #buy, …), so the page is static files and
// needs no server-side routes.
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
import { emailLink, roleNames, type SignedIn, signedIn, signOutSession, switchAccount } from './auth.ts';
import { field, h, tidyTables } from './dom.ts';
import { money } from './format.ts';
import { announce, errorBox, roleBlock, type View, type ViewContext } from './ui.ts';
import { buy, FOLLOWING_KEY, takeCheckoutReturn } from './views/buy.ts';
import { overview } from './views/overview.ts';

/**
 * A view loaded when first opened: its module is a chunk of its own (dashboard/build.ts splits them), so the
 * first page carries only the overview, the sign-in and the buying flow the checkout return needs.
 */
function later(
  id: string,
  title: string,
  shows: View['shows'],
  load: () => Promise<View>,
  role?: View['role'],
): View {
  return {
    id,
    title,
    shows,
    ...(role ? { role } : {}),
    render: async (context) => (await load()).render(context),
  };
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
    'billing',
  ),
  later(
    'postpaid',
    'Limit and invoices',
    (current) => current.billing_mode === 'postpaid',
    async () => (await import('./views/postpaid.ts')).postpaid,
  ),
  later(
    'contract',
    'Contract',
    (current) => current.billing_mode === 'marketplace_contract',
    async () => (await import('./views/contract.ts')).contract,
  ),
  later('usage', 'Usage', always, async () => (await import('./views/usage.ts')).usage),
  later(
    'transactions',
    'Transactions',
    always,
    async () => (await import('./views/transactions.ts')).transactions,
  ),
  later('tokens', 'Tokens', always, async () => (await import('./views/tokens.ts')).tokens, 'owner'),
  later(
    'notifications',
    'Notifications',
    always,
    async () => (await import('./views/notifications.ts')).notifications,
    'billing',
  ),
  later('webhooks', 'Webhooks', always, async () => (await import('./views/webhooks.ts')).webhooks, 'owner'),
  later('members', 'Members', always, async () => (await import('./views/members.ts')).members, 'owner'),
  later('audit', 'Audit', always, async () => (await import('./views/audit.ts')).audit, 'owner'),
  later('prices', 'Prices', always, async () => (await import('./views/prices.ts')).prices),
];

const main = document.getElementById('main')!;
// Slice B (phones): every table labels its cells for the stacked phone layout and scrolls in a focusable region.
tidyTables(main);
const nav = document.getElementById('nav')!;
const chip = document.getElementById('balance-chip')!;
const signOutButton = document.getElementById('sign-out') as HTMLButtonElement;
const who = document.getElementById('who')!;

let credits: Credits | undefined;
/** The email sign-in's person and account; undefined when signed in with a token (or not at all). */
let member: SignedIn | undefined;

/** The member's session now acts in `person.account` (or in none yet); the API client follows it. */
function setMember(person: SignedIn | undefined): void {
  member = person;
  if (person?.account) session.signInMember(person.account.id);
}
let renderCount = 0;

function showChip(current: Credits): void {
  chip.hidden = false;
  chip.textContent =
    // A contract account has a balance like a prepaid one (funded by its AWS Marketplace contract).
    current.billing_mode === 'prepaid' || current.billing_mode === 'marketplace_contract'
      ? `Balance ${money(current.balance)}`
      : current.billing_mode === 'postpaid'
        ? `This month ${money(current.period_usage ?? 0)}`
        : 'Billed through AWS';
}

async function refreshCredits(): Promise<Credits> {
  const identity = session.identity();
  const fresh = await answer(client.GET('/v1/credits'));
  // Signed out (or in as someone else) while this was read: the header is no longer this answer's to draw.
  if (!identity || session.identity() !== identity) throw signedOut();
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

/** Who is signed in and, for a member of several accounts, the switcher between them. */
function drawWho(): void {
  if (!member?.account) {
    who.hidden = true;
    who.replaceChildren();
    return;
  }
  const current = member.account;
  who.hidden = false;
  const label = h('span', { class: 'who-name' }, `${member.email} · ${roleNames[current.role]}`);
  if (member.accounts.length < 2) {
    who.replaceChildren(label, h('span', { class: 'who-account' }, current.name));
    return;
  }
  const picker = h(
    'select',
    { id: 'account-switcher', 'aria-label': 'Account' },
    ...member.accounts.map((account) =>
      h(
        'option',
        { value: account.id, selected: account.id === current.id },
        `${account.name} (${roleNames[account.role]})`,
      ),
    ),
  );
  picker.addEventListener('change', () => void chooseAccount(picker.value));
  who.replaceChildren(label, picker);
}

async function chooseAccount(accountId: string): Promise<void> {
  try {
    setMember(await switchAccount(accountId));
  } catch (error) {
    main.replaceChildren(h('h1', { tabindex: '-1' }, 'Switch account'), errorBox(error));
    return;
  }
  credits = undefined;
  renderCount++;
  drawWho();
  await start(true);
  announce(`Now in ${member?.account?.name ?? 'the account'}.`);
}

/** A member of several accounts picks one after signing in. */
function accountPicker(person: SignedIn): void {
  credits = undefined;
  nav.hidden = true;
  chip.hidden = true;
  signOutButton.hidden = false;
  document.title = 'Choose an account · Billing dashboard';
  main.replaceChildren(
    h('h1', { tabindex: '-1' }, 'Choose an account'),
    h('p', {}, `${person.email} is a member of these accounts. You can switch later from the header.`),
    h(
      'ul',
      { class: 'account-choices' },
      ...person.accounts.map((account) => {
        const button = h(
          'button',
          { type: 'button', 'data-account-id': account.id },
          `${account.name} · ${roleNames[account.role]}`,
        );
        button.addEventListener('click', () => void chooseAccount(account.id));
        return h('li', {}, button);
      }),
    ),
  );
  main.querySelector<HTMLElement>('h1')?.focus();
}

async function route(moveFocus: boolean): Promise<void> {
  if ((!session.token() && !member?.account) || !credits) return;
  const view = currentView();
  const count = ++renderCount;
  const context: ViewContext = {
    main,
    credits,
    refreshCredits,
    isCurrent: () => count === renderCount,
    ...(member?.account ? { role: member.account.role } : {}),
  };
  drawNav(view);
  // A message from the previous view ("saved", "revoked") would read as news about this one.
  if (moveFocus) document.getElementById('status')!.textContent = '';
  document.title = `${view.title} · Billing dashboard`;
  main.setAttribute('aria-busy', 'true');
  try {
    const blocked = view.role ? roleBlock(context, view.role, `The ${view.title} page`) : null;
    if (blocked) main.replaceChildren(h('h1', { tabindex: '-1' }, view.title), blocked);
    else await view.render(context);
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

/** Asks for an email sign-in link; the answer reads the same whether or not the address is a member. */
function emailForm(): HTMLFormElement {
  const prefill = new URLSearchParams(location.search).get('signin') ?? '';
  const input = h('input', {
    id: 'email',
    type: 'email',
    autocomplete: 'email',
    spellcheck: 'false',
    required: true,
    value: prefill.includes('@') ? prefill : '',
  });
  const submit = h('button', { type: 'submit' }, 'Email me a sign-in link');
  const result = h('div', {});
  const form = h(
    'form',
    { class: 'stack sign-in', novalidate: true, id: 'email-sign-in' },
    field('Work email', input, 'We email you a link that signs you in. It works once, for 15 minutes.'),
    submit,
    result,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const email = input.value.trim();
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) {
      result.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'Enter your email address.'));
      input.focus();
      return;
    }
    submit.disabled = true;
    try {
      await emailLink(email);
      result.replaceChildren(
        h(
          'p',
          { class: 'success', role: 'status', id: 'link-sent' },
          `If ${email} is a member of an account, a sign-in link is on its way. Open it in this browser within 15 minutes.`,
        ),
      );
    } catch (error) {
      result.replaceChildren(errorBox(error));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** Developers may still sign in with a billing token (the same secret their code uses). */
function tokenForm(): HTMLFormElement {
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'token-help',
  });
  const submit = h('button', { type: 'submit', class: 'secondary' }, 'Sign in with token');
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
      member = undefined;
      await start(true);
      announce('Signed in.');
    } catch (error) {
      problem.replaceChildren(errorBox(error));
      input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function signInForm(message?: string): void {
  credits = undefined;
  member = undefined;
  session.signOut();
  drawWho();
  nav.hidden = true;
  chip.hidden = true;
  signOutButton.hidden = true;
  document.title = 'Sign in · Billing dashboard';
  const email = emailForm();
  const token = h(
    'details',
    { class: 'token-sign-in' },
    h('summary', {}, 'Sign in with a billing token instead'),
    tokenForm(),
  );
  if (new URLSearchParams(location.search).get('signin') === 'token') token.open = true;
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
    h('section', { class: 'card' }, email),
    h('section', { class: 'card' }, token),
  );
  email.querySelector('input')?.focus();
}

async function start(moveFocus: boolean): Promise<void> {
  signOutButton.hidden = false;
  drawWho();
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
  const wasMember = member !== undefined;
  session.signOut();
  signInForm(wasMember ? 'Your session has ended. Sign in again.' : error.message);
});

signOutButton.addEventListener('click', async () => {
  const wasMember = member !== undefined;
  session.signOut();
  renderCount++;
  if (wasMember) {
    try {
      await signOutSession();
    } catch {
      // The cookie is HttpOnly: if the API cannot be reached, the session ends at its expiry instead.
    }
  }
  signInForm();
  announce('Signed out.');
});

window.addEventListener('hashchange', () => void route(true));

/** Signed in by token (this tab), by session cookie (an email link), or not yet. */
async function boot(): Promise<void> {
  takeCheckoutReturn();
  if (session.token()) return start(false);
  let person: SignedIn | null;
  try {
    person = await signedIn();
  } catch (error) {
    main.replaceChildren(
      h('h1', { tabindex: '-1' }, 'Billing dashboard'),
      errorBox(error, () => void boot()),
    );
    return;
  }
  if (!person) return signInForm();
  setMember(person);
  if (!person.account) {
    if (person.accounts.length === 1) return chooseAccount(person.accounts[0]!.id);
    if (person.accounts.length === 0) {
      member = undefined;
      return signInForm('This address is no longer a member of any account.');
    }
    return accountPicker(person);
  }
  return start(false);
}

void boot();
