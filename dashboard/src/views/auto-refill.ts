// Dashboard › Auto-refill: the settings, the payment method on file, and what the safeguards and the last
// attempt mean, in plain words.
import { ApiError, type AutoRefill, answer, client } from '../api.ts';
import { field, h } from '../dom.ts';
import { money, paymentMethod, readAmount, when } from '../format.ts';
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
import { FOLLOWING_KEY, follow } from './buy.ts';

const MAX_CONSECUTIVE_FAILURES = 3;
const MAX_ATTEMPTS_PER_10_MINUTES = 2;

export function refillSummary(settings: AutoRefill): string {
  const method = paymentMethod(settings.payment_method);
  if (settings.status === 'active' && settings.threshold !== null && settings.amount !== null) {
    const cap = settings.monthly_cap === null ? '' : `, up to ${money(settings.monthly_cap)} a month`;
    return `Auto-refill is on: when your available balance falls below ${money(settings.threshold)}, ${money(settings.amount)} is charged to ${method}${cap}.`;
  }
  if (settings.status === 'suspended') {
    return `Auto-refill is paused${settings.suspended_reason ? `: ${settings.suspended_reason}` : ''}. Save it again (or buy credits with a new payment method) to resume.`;
  }
  return 'Auto-refill is off: your balance is only topped up when you buy credits.';
}

const outcomes: Record<string, string> = {
  succeeded: 'succeeded',
  failed: 'failed',
  authentication_required: 'needs you to confirm the payment with your bank',
  cap_reached: 'was skipped: the monthly cap is reached',
  rate_limited: 'was skipped: too many attempts in a short time',
  not_needed: 'was not needed: the balance was already above the threshold',
  no_payment_method: 'could not run: no payment method is saved',
};

function lastAttempt(attempt: NonNullable<AutoRefill['last_attempt']>): HTMLElement {
  const text = `${when(attempt.at)}: a refill of ${money(attempt.amount)} ${outcomes[attempt.outcome] ?? attempt.outcome}${attempt.reason ? ` (${attempt.reason})` : ''}.`;
  return h(
    'p',
    { id: 'last-attempt' },
    text,
    attempt.top_up_url
      ? h('span', {}, ' ', h('a', { href: attempt.top_up_url }, 'Confirm the payment and top up'))
      : null,
  );
}

function safeguards(settings: AutoRefill): HTMLElement | null {
  const state = settings.safeguards;
  if (!state) return null;
  return h(
    'ul',
    { class: 'plain' },
    h(
      'li',
      {},
      `Refilled this month: ${money(state.refilled_this_month)}${settings.monthly_cap === null ? ' (no monthly cap)' : ` of the ${money(settings.monthly_cap)} cap`}.`,
    ),
    h(
      'li',
      {},
      `Failed charges in a row: ${state.consecutive_failures} (auto-refill pauses after ${MAX_CONSECUTIVE_FAILURES}).`,
    ),
    h(
      'li',
      {},
      `Charges in the last 10 minutes: ${state.attempts_last_10_minutes} (at most ${MAX_ATTEMPTS_PER_10_MINUTES}).`,
    ),
  );
}

function statusSection(settings: AutoRefill): HTMLElement {
  const part = section(
    'Status',
    h(
      'p',
      { id: 'refill-summary', tabindex: '-1', class: settings.status === 'suspended' ? 'warning' : '' },
      refillSummary(settings),
    ),
    h(
      'p',
      {},
      `Payment method on file: ${paymentMethod(settings.payment_method)}.`,
      settings.payment_method
        ? null
        : h(
            'span',
            {},
            ' Buy credits once by card or PayPal to save one. ',
            h('a', { href: '#buy' }, 'Buy credits'),
          ),
    ),
    safeguards(settings),
    settings.last_attempt
      ? lastAttempt(settings.last_attempt)
      : h('p', { class: 'muted' }, 'No refill has run yet.'),
  );
  part.id = 'refill-status';
  return part;
}

function settingsForm(
  context: ViewContext,
  settings: AutoRefill,
  onSaved: (saved: AutoRefill) => void,
): HTMLElement {
  const enabled = h('input', { type: 'checkbox', id: 'refill-enabled', checked: settings.enabled });
  const threshold = h('input', {
    id: 'refill-threshold',
    inputmode: 'decimal',
    value: settings.threshold ?? 5,
  });
  const amount = h('input', { id: 'refill-amount', inputmode: 'decimal', value: settings.amount ?? 25 });
  const cap = h('input', { id: 'refill-cap', inputmode: 'decimal', value: settings.monthly_cap ?? '' });
  const submit = h('button', { type: 'submit' }, 'Save auto-refill');
  const result = h('div', {});
  const form = h(
    'form',
    { novalidate: true, class: 'stack' },
    h('div', { class: 'check' }, enabled, h('label', { for: 'refill-enabled' }, 'Refill automatically')),
    field('When the available balance falls below (USD)', threshold),
    field('Add this amount (USD)', amount, 'From $5 to $10,000, charged to your payment method on file.'),
    field(
      'Monthly cap (USD, optional)',
      cap,
      'Never refill more than this in a calendar month. Leave empty for no cap.',
    ),
    submit,
    result,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    result.replaceChildren();
    const checks = [
      [threshold, readAmount(threshold.value, 0, 1_000_000)],
      [amount, readAmount(amount.value, 5, 10_000)],
      [
        cap,
        cap.value.trim() ? readAmount(cap.value, 5, 1_000_000) : ({ ok: true, value: Number.NaN } as const),
      ],
    ] as const;
    let firstBad: HTMLInputElement | undefined;
    for (const [input, check] of checks) {
      fieldProblem(input, check.ok ? null : check.problem);
      if (!check.ok) firstBad ??= input;
    }
    const [t, a, c] = checks.map(([, check]) => (check.ok ? check.value : Number.NaN)) as [
      number,
      number,
      number,
    ];
    if (!firstBad && !Number.isNaN(c) && c < a) {
      fieldProblem(cap, 'The monthly cap must be at least the refill amount.');
      firstBad = cap;
    }
    if (firstBad) {
      firstBad.focus();
      return;
    }
    void busy(submit, async () => {
      try {
        const saved = await answer(
          client.PUT('/v1/billing/auto-refill', {
            body: {
              enabled: enabled.checked,
              threshold: t,
              amount: a,
              monthly_cap: Number.isNaN(c) ? null : c,
            },
          }),
        );
        if (!context.isCurrent()) return;
        announce(saved.enabled ? 'Auto-refill saved and on.' : 'Auto-refill saved and off.');
        onSaved(saved);
      } catch (error) {
        const box = errorBox(error);
        if (error instanceof ApiError && error.code === 'no_payment_method') {
          box.append(h('p', {}, h('a', { href: '#buy' }, 'Buy credits to save a payment method')));
        }
        result.replaceChildren(box);
      }
    });
  });
  return form;
}

async function render(context: ViewContext): Promise<void> {
  // The previous view must not stay on screen while the settings are read.
  page(context, 'Auto-refill', loading('auto-refill settings'));
  const settings = await answer(client.GET('/v1/billing/auto-refill'));
  if (!context.isCurrent()) return;
  // A top-up the bank wanted confirmed comes back here (the return page's link): it is followed like a
  // purchase, then the status is read again, so the used top-up link is gone.
  const following = h('section', {
    class: 'card',
    'aria-labelledby': 'following-title',
    'aria-live': 'polite',
    hidden: true,
  });
  const draw = (current: AutoRefill, afterSave: boolean) => {
    const status = statusSection(current);
    page(
      context,
      'Auto-refill',
      following,
      status,
      section(
        'Settings',
        settingsForm(context, current, (saved) => draw(saved, true)),
      ),
    );
    // After a save the form is redrawn: focus goes to the new summary rather than being lost.
    if (afterSave) context.main.querySelector<HTMLElement>('#refill-summary')?.focus();
  };
  draw(settings, false);
  const purchaseId = sessionStorage.getItem(FOLLOWING_KEY);
  if (purchaseId?.startsWith('pur_')) {
    follow(context, purchaseId, following, async () => {
      try {
        const now = await answer(client.GET('/v1/billing/auto-refill'));
        if (context.isCurrent())
          context.main.querySelector('#refill-status')?.replaceWith(statusSection(now));
      } catch {
        // The outcome above stands; the status is read again on the next visit.
      }
    });
  }
}

export const autoRefill: View = {
  id: 'auto-refill',
  title: 'Auto-refill',
  shows: (credits) => credits.billing_mode === 'prepaid',
  render,
};
