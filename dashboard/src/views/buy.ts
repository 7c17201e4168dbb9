// Dashboard › Buy credits: choose an amount, pay on the checkout page, come back to a page that follows the
// purchase until it is paid and shows the new balance; the purchase history below.
import { ApiError, answer, client, newIdempotencyKey, type Purchase, withIdempotencyKey } from '../api.ts';
import { h, table } from '../dom.ts';
import { money, purchaseStates, readAmount, when } from '../format.ts';
import {
  announce,
  busy,
  errorBox,
  fieldProblem,
  loading,
  page,
  section,
  type View,
  type ViewContext,
} from '../ui.ts';

const PRESETS = [10, 25, 50, 100];
const MIN = 5;
const MAX = 10_000;
export const FOLLOWING_KEY = 'credits-billing.following';

/** Poll quickly while a card payment lands, then ease off (bank transfers take longer), for 15 minutes. */
const pollDelay = (attempt: number) => (attempt < 30 ? 1_000 : attempt < 60 ? 3_000 : 10_000);
const POLL_FOR_MS = 15 * 60_000;

/**
 * Stripe sends the customer back to `/?purchase_id=…&session_id=…` (from Buy), or the return page links to
 * `/?purchase_id=…&view=auto-refill#auto-refill` (a top-up the bank wanted confirmed). The id is kept for
 * the view it started from (in session storage, so a sign-in in between does not lose it) and the query is
 * dropped from the address bar.
 */
export function takeCheckoutReturn(): void {
  const query = new URLSearchParams(location.search);
  const purchaseId = query.get('purchase_id');
  if (!query.has('checkout') && !purchaseId) return;
  if (purchaseId && /^pur_[0-9A-Z]{26}$/.test(purchaseId)) sessionStorage.setItem(FOLLOWING_KEY, purchaseId);
  else if (!purchaseId) sessionStorage.setItem(FOLLOWING_KEY, 'cancelled');
  const view = query.get('view') === 'auto-refill' ? 'auto-refill' : 'buy';
  history.replaceState(null, '', `${location.pathname}#${view}`);
}

function badge(status: string): HTMLElement {
  return h('span', { class: `badge badge-${status}` }, purchaseStates[status] ?? status);
}

function purchaseForm(): HTMLElement {
  const presets = PRESETS.map((amount) =>
    h(
      'label',
      { class: 'preset' },
      h('input', { type: 'radio', name: 'preset', value: amount, checked: amount === 25 }),
      ` ${money(amount)}`,
    ),
  );
  const custom = h('input', {
    id: 'custom-amount',
    name: 'custom',
    inputmode: 'decimal',
    autocomplete: 'off',
    placeholder: 'e.g. 40',
  });
  custom.addEventListener('input', () => {
    if (custom.value.trim())
      for (const radio of document.querySelectorAll<HTMLInputElement>('input[name=preset]'))
        radio.checked = false;
    fieldProblem(custom, null);
  });
  for (const preset of presets)
    preset.querySelector('input')!.addEventListener('change', () => {
      custom.value = '';
      fieldProblem(custom, null);
    });
  const submit = h('button', { type: 'submit' }, 'Continue to payment');
  const result = h('div', {});
  // One key per amount: a retry after a lost answer reuses it, so it can never open two purchases.
  let intent: { amount: number; key: string } | undefined;
  const form = h(
    'form',
    { novalidate: true, class: 'stack' },
    h('fieldset', { class: 'presets' }, h('legend', {}, 'Amount'), ...presets),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'custom-amount' }, 'Or another amount (USD)'),
      h(
        'p',
        { class: 'help', id: 'custom-amount-help' },
        `From ${money(MIN)} to ${money(MAX)}, at most two decimals.`,
      ),
      custom,
    ),
    submit,
    result,
  );
  custom.setAttribute('aria-describedby', 'custom-amount-help');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    result.replaceChildren();
    const preset = form.querySelector<HTMLInputElement>('input[name=preset]:checked');
    const checked = readAmount(custom.value.trim() ? custom.value : (preset?.value ?? ''), MIN, MAX);
    if (!checked.ok) {
      fieldProblem(custom, checked.problem);
      custom.focus();
      return;
    }
    if (intent?.amount !== checked.value) intent = { amount: checked.value, key: newIdempotencyKey() };
    const key = intent.key;
    void busy(submit, async () => {
      try {
        const checkout = await answer(
          client.POST('/v1/billing/checkout', {
            params: { header: withIdempotencyKey(key) },
            body: {
              amount: checked.value,
              return_url: `${location.origin}${location.pathname}?checkout=return`,
            },
          }),
        );
        announce(`Opening the payment page for ${money(checked.value)}…`);
        location.assign(checkout.checkout_url);
      } catch (error) {
        showRefusal(error, custom, result);
      }
    });
  });
  return form;
}

/**
 * A refused checkout: the API's 400 about the amount (its limits are configurable, so it can refuse what this
 * page accepts) next to the amount field, which takes focus; anything else as an alert below the button.
 */
function showRefusal(error: unknown, custom: HTMLInputElement, result: HTMLElement): void {
  const about = error instanceof ApiError && error.status === 400 ? error.details : [];
  const amount = about.filter((detail) => detail.field === 'amount');
  if (amount.length && amount.length === about.length) {
    const problem = amount.map((detail) => detail.problem.trim()).join('; ');
    fieldProblem(custom, `The amount ${problem}${/[.!?]$/.test(problem) ? '' : '.'}`);
    custom.focus();
    return;
  }
  result.replaceChildren(errorBox(error));
}

/**
 * Follows a purchase until it settles, then shows the balance it produced; `settled` runs once it is paid,
 * failed or expired (the auto-refill view re-reads its settings then).
 */
export function follow(
  context: ViewContext,
  purchaseId: string,
  panel: HTMLElement,
  settled: () => Promise<void> = () => drawHistory(context),
): void {
  const started = Date.now();
  const line = h('p', {}, 'Checking your payment…');
  panel.replaceChildren(h('h2', { id: 'following-title' }, 'Your purchase'), line);
  panel.hidden = false;
  let attempt = 0;
  const check = async (): Promise<void> => {
    if (!context.isCurrent()) return;
    let purchase: Purchase;
    try {
      purchase = await answer(
        client.GET('/v1/billing/purchases/{id}', { params: { path: { id: purchaseId } } }),
      );
    } catch (error) {
      if (!context.isCurrent()) return;
      panel.replaceChildren(
        panel.firstChild!,
        errorBox(error, () => follow(context, purchaseId, panel, settled)),
      );
      return;
    }
    if (!context.isCurrent()) return;
    if (purchase.status === 'paid') {
      sessionStorage.removeItem(FOLLOWING_KEY);
      // The purchase is paid whether or not the balance can be re-read right now.
      const credits = await context.refreshCredits().catch(() => undefined);
      const message = credits
        ? `Payment received: ${money(purchase.amount)} added. Your balance is now ${money(credits.balance)}.`
        : `Payment received: ${money(purchase.amount)} added.`;
      // The panel is a live region: it is announced from there, once (not again in the status bar).
      panel.replaceChildren(panel.firstChild!, h('p', { class: 'success', id: 'purchase-outcome' }, message));
      await settled();
      return;
    }
    if (purchase.status === 'failed' || purchase.status === 'expired') {
      sessionStorage.removeItem(FOLLOWING_KEY);
      const message =
        purchase.status === 'failed'
          ? `The payment of ${money(purchase.amount)} failed; nothing was charged. Try again with another method.`
          : `The checkout for ${money(purchase.amount)} expired before it was paid; nothing was charged.`;
      panel.replaceChildren(
        panel.firstChild!,
        h('p', { class: 'error', role: 'alert', id: 'purchase-outcome' }, message),
      );
      await settled();
      return;
    }
    line.textContent =
      purchase.payment_method_type === 'customer_balance'
        ? `Waiting for your bank transfer of ${money(purchase.amount)}. Credits appear here as soon as it arrives.`
        : `Waiting for the payment of ${money(purchase.amount)} to complete…`;
    if (Date.now() - started > POLL_FOR_MS) {
      line.textContent += ' This is taking a while: come back to this page later to see it.';
      return;
    }
    setTimeout(() => void check(), pollDelay(attempt++));
  };
  void check();
}

/** Stripe's receipt and invoice of a paid purchase, each opened in a new tab; "—" while neither is known. */
function documents(purchase: Purchase): HTMLElement | string {
  const link = (url: string, label: string) =>
    h(
      'a',
      {
        href: url,
        target: '_blank',
        rel: 'noopener noreferrer',
        'aria-label': `${label} of the ${money(purchase.amount)} purchase of ${when(purchase.created_at)}`,
      },
      label,
    );
  const links = [
    ...(purchase.receipt_url ? [link(purchase.receipt_url, 'Receipt')] : []),
    ...(purchase.invoice_url ? [link(purchase.invoice_url, 'Invoice')] : []),
  ];
  if (links.length === 0) return '—';
  return h(
    'span',
    { class: 'documents' },
    ...links.flatMap((item, index) => (index ? [' · ', item] : [item])),
  );
}

const historyId = 'purchase-history';
/**
 * The view draws the history when it opens and again once a followed purchase is paid; the two reads can
 * answer out of order, so only the newest read may draw (an older one would put "Waiting for payment" back).
 */
let historyReads = 0;

async function drawHistory(context: ViewContext): Promise<void> {
  const holder = document.getElementById(historyId);
  if (!holder) return;
  const read = ++historyReads;
  try {
    const { data } = await answer(client.GET('/v1/billing/purchases'));
    if (!context.isCurrent() || read !== historyReads) return;
    holder.replaceChildren(
      data.length
        ? table(
            'Purchases, newest first',
            ['Date', 'Amount', 'Method', 'State', 'Credited', 'Documents'],
            data.map((purchase) => [
              when(purchase.created_at),
              money(purchase.amount),
              purchase.payment_method_type === 'customer_balance'
                ? 'bank transfer'
                : (purchase.payment_method_type ?? '—'),
              badge(purchase.status),
              when(purchase.credited_at),
              documents(purchase),
            ]),
          )
        : h('p', { class: 'muted' }, 'No purchases yet.'),
    );
  } catch (error) {
    if (context.isCurrent() && read === historyReads)
      holder.replaceChildren(errorBox(error, () => void drawHistory(context)));
  }
}

async function render(context: ViewContext): Promise<void> {
  const following = h('section', {
    class: 'card',
    'aria-labelledby': 'following-title',
    'aria-live': 'polite',
    hidden: true,
  });
  page(
    context,
    'Buy credits',
    following,
    section(
      'Add credits',
      h('p', {}, 'You pay on a secure checkout page by card, PayPal or bank transfer, then come back here.'),
      purchaseForm(),
    ),
    section('Purchase history', h('div', { id: historyId }, loading('purchases'))),
  );
  const purchaseId = sessionStorage.getItem(FOLLOWING_KEY);
  if (purchaseId === 'cancelled') {
    sessionStorage.removeItem(FOLLOWING_KEY);
    following.replaceChildren(
      h('h2', { id: 'following-title' }, 'Checkout cancelled'),
      h('p', {}, 'You left the payment page; nothing was charged.'),
    );
    following.hidden = false;
  } else if (purchaseId) {
    follow(context, purchaseId, following);
  }
  await drawHistory(context);
}

export const buy: View = {
  role: 'billing',
  id: 'buy',
  title: 'Buy credits',
  shows: (credits) => credits.billing_mode === 'prepaid',
  render,
};
