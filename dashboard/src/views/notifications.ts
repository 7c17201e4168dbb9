// Dashboard › Notifications: who is emailed about the account's billing, the low-balance alert threshold,
// which families of events email, and how the emails fare (last sent, last failure). The API is the judge of
// what is valid; the page only spares the obvious round trips (an address listed twice, more than ten).
import { ApiError, answer, client, type NotificationSettings, type Notifications } from '../api.ts';
import { field, h } from '../dom.ts';
import { money, readAmount, when } from '../format.ts';
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

const MAX_RECIPIENTS = 10;

type Family = keyof NotificationSettings['events'];

const families: [Family, string, string][] = [
  ['low_balance', 'Low balance', 'When the available balance falls below the alert threshold above.'],
  ['auto_refill', 'Auto-refill', 'When an automatic top-up succeeds, fails or is paused.'],
  [
    'spend_limit',
    'Spend limits',
    "At 80 % of the month's spend limit and when it is reached, and when a token reaches its own limit.",
  ],
  ['invoices', 'Invoices', 'When an invoice is issued, its payment fails or it is overdue.'],
  ['receipts', 'Purchase receipts', 'A receipt for each credit purchase.'],
];

/** What an email was about, from its event type (`credits.balance.low`). */
const emailAbout: Record<string, string> = {
  'credits.balance.low': 'a low balance',
  'credits.auto_refill.succeeded': 'an auto-refill that succeeded',
  'credits.auto_refill.failed': 'an auto-refill that failed',
  'credits.auto_refill.suspended': 'auto-refill being paused',
  'credits.spend_limit.warning': 'the spend limit nearly reached',
  'credits.spend_limit.reached': 'the spend limit reached',
  'credits.token_limit.reached': "a token's limit reached",
  'credits.invoice.issued': 'an issued invoice',
  'credits.invoice.payment_failed': "an invoice's failed payment",
  'credits.invoice.overdue': 'an overdue invoice',
  'credits.purchase.succeeded': 'a purchase receipt',
};

function plural(count: number): string {
  return `${count} address${count === 1 ? '' : 'es'}`;
}

function statusSection(settings: Notifications): HTMLElement {
  const { last_sent_at: lastSent, last_failure: failure } = settings.status;
  return section(
    'Status',
    settings.recipients.length
      ? h(
          'p',
          { id: 'notify-summary', tabindex: '-1' },
          `Billing emails go to ${plural(settings.recipients.length)}.`,
        )
      : h(
          'p',
          { id: 'notify-summary', tabindex: '-1', class: 'warning' },
          'Nobody is emailed yet: add an address below to get billing emails.',
        ),
    h(
      'p',
      { id: 'notify-last-sent' },
      lastSent ? `Last email sent ${when(lastSent)}.` : 'No email has been sent yet.',
    ),
    failure
      ? h(
          'p',
          { id: 'notify-last-failure', class: 'warning' },
          `The last email that failed: about ${emailAbout[failure.event_type] ?? failure.event_type}, to ${failure.recipient}, ${when(failure.at)} (${failure.reason}). `,
          failure.permanent
            ? 'It was refused for good and is not retried: check the address.'
            : 'It is being retried.',
        )
      : null,
  );
}

/** Capitalised and ending with a full stop, as the page's own messages read. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return `${trimmed.charAt(0).toUpperCase()}${trimmed.slice(1)}${/[.!?]$/.test(trimmed) ? '' : '.'}`;
}

function settingsForm(
  context: ViewContext,
  settings: Notifications,
  onSaved: (saved: NotificationSettings) => void,
): HTMLElement {
  const rows = h('ul', { class: 'recipients', id: 'notify-recipients' });
  const count = h('p', { class: 'help', id: 'notify-recipients-help' });
  const add = h('button', { type: 'button', class: 'secondary' }, 'Add a recipient');
  let inputs: HTMLInputElement[] = [];

  const draw = (values: string[], focus?: number) => {
    inputs = values.map((value, index) =>
      h('input', {
        id: `notify-recipient-${index}`,
        type: 'email',
        autocomplete: 'email',
        spellcheck: 'false',
        value,
      }),
    );
    rows.replaceChildren(
      ...inputs.map((input, index) =>
        h(
          'li',
          { class: 'copy-row' },
          field(`Recipient ${index + 1}`, input),
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              'aria-label': `Remove recipient ${index + 1}`,
              onClick: () => {
                const kept = inputs.map((each) => each.value).filter((_, at) => at !== index);
                draw(kept, Math.min(index, kept.length - 1));
                if (!kept.length) add.focus();
              },
            },
            'Remove',
          ),
        ),
      ),
    );
    count.textContent = values.length
      ? `${plural(values.length)} of at most ${MAX_RECIPIENTS}.`
      : `Nobody is emailed yet. Add up to ${MAX_RECIPIENTS} addresses.`;
    add.disabled = values.length >= MAX_RECIPIENTS;
    if (focus !== undefined && focus >= 0) inputs[focus]?.focus();
  };
  add.addEventListener('click', () => {
    if (inputs.length >= MAX_RECIPIENTS) return;
    draw([...inputs.map((input) => input.value), ''], inputs.length);
  });
  draw(settings.recipients);

  const threshold = h('input', {
    id: 'notify-threshold',
    inputmode: 'decimal',
    value: settings.low_balance_threshold ?? '',
  });
  const boxes = Object.fromEntries(
    families.map(([family]) => [
      family,
      h('input', {
        type: 'checkbox',
        id: `notify-${family}`,
        checked: settings.events[family],
        'aria-describedby': `notify-${family}-help`,
      }),
    ]),
  ) as Record<Family, HTMLInputElement>;
  const submit = h('button', { type: 'submit' }, 'Save notifications');
  const result = h('div', { id: 'notify-result' });

  const form = h(
    'form',
    { novalidate: true, class: 'stack' },
    h(
      'fieldset',
      { 'aria-describedby': 'notify-recipients-help' },
      h('legend', {}, 'Recipients'),
      rows,
      count,
      add,
    ),
    field(
      'Low-balance alert below (USD, optional)',
      threshold,
      'One email each time the available balance falls below this amount. Leave empty for no alert. ' +
        "It is independent of auto-refill's threshold: changing one does not change the other.",
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Email me about'),
      ...families.map(([family, label, help]) =>
        h(
          'div',
          { class: 'check' },
          boxes[family],
          h(
            'div',
            {},
            h('label', { for: `notify-${family}` }, label),
            h('p', { class: 'help', id: `notify-${family}-help` }, help),
          ),
        ),
      ),
    ),
    submit,
    result,
  );

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    result.replaceChildren();
    for (const input of [...inputs, threshold]) fieldProblem(input, null);
    // Empty rows are dropped; `sent[i]` is the field the API calls `recipients.i`.
    const sent = inputs.filter((input) => input.value.trim() !== '');
    const addresses = sent.map((input) => input.value.trim());
    let firstBad: HTMLInputElement | undefined;
    const seen = new Set<string>();
    sent.forEach((input, index) => {
      const key = addresses[index]!.toLowerCase();
      if (seen.has(key)) {
        fieldProblem(input, 'This address is listed already.');
        firstBad ??= input;
      }
      seen.add(key);
    });
    const typed = threshold.value.trim();
    const amount = typed ? readAmount(typed, 0, 1_000_000) : ({ ok: true, value: null } as const);
    if (!amount.ok) {
      fieldProblem(threshold, amount.problem);
      firstBad ??= threshold;
    }
    if (firstBad || !amount.ok) {
      firstBad?.focus();
      return;
    }
    const body: NotificationSettings = {
      recipients: addresses,
      low_balance_threshold: amount.value,
      events: Object.fromEntries(families.map(([family]) => [family, boxes[family].checked])) as Record<
        Family,
        boolean
      >,
    };
    void busy(submit, async () => {
      try {
        const saved = await answer(client.PUT('/v1/notifications', { body }));
        if (!context.isCurrent()) return;
        announce('Notification settings saved.');
        onSaved(saved);
      } catch (error) {
        if (!context.isCurrent()) return;
        showRefusal(error, sent, threshold, result);
      }
    });
  });
  return form;
}

/**
 * A 400's problems next to the fields they name (`recipients.2`, `low_balance_threshold`; the first one
 * focused); anything else, or a problem with no field here, as an alert under the form.
 */
function showRefusal(
  error: unknown,
  sent: HTMLInputElement[],
  threshold: HTMLInputElement,
  result: HTMLElement,
): void {
  if (error instanceof ApiError && error.status === 400 && error.details.length) {
    const target = (name: string): HTMLInputElement | undefined => {
      if (name === 'low_balance_threshold') return threshold;
      const match = /^recipients\.(\d+)$/.exec(name);
      return match ? sent[Number(match[1])] : undefined;
    };
    const placed = error.details.filter((detail) => target(detail.field));
    for (const detail of placed) fieldProblem(target(detail.field)!, sentence(detail.problem));
    if (placed.length) target(placed[0]!.field)!.focus();
    if (placed.length === error.details.length) return;
    const rest = error.details.filter((detail) => !target(detail.field));
    result.replaceChildren(
      h(
        'div',
        { class: 'error', role: 'alert' },
        h('p', {}, 'The settings were not saved:'),
        h(
          'ul',
          {},
          ...rest.map((detail) =>
            h('li', {}, `${detail.field === 'recipients' ? 'Recipients' : detail.field}: ${detail.problem}`),
          ),
        ),
      ),
    );
    return;
  }
  result.replaceChildren(errorBox(error));
}

function savedMessage(saved: NotificationSettings): string {
  const who = saved.recipients.length
    ? `Billing emails go to ${plural(saved.recipients.length)}`
    : 'Nobody is emailed';
  const alert =
    saved.low_balance_threshold === null
      ? 'no low-balance alert'
      : `a low-balance alert below ${money(saved.low_balance_threshold)}`;
  return `Saved. ${who}, ${alert}.`;
}

async function render(context: ViewContext): Promise<void> {
  page(context, 'Notifications', loading('notification settings'));
  const settings = await answer(client.GET('/v1/notifications'));
  if (!context.isCurrent()) return;
  const draw = (current: Notifications, saved?: NotificationSettings) => {
    page(
      context,
      'Notifications',
      statusSection(current),
      section(
        'Settings',
        settingsForm(context, current, (stored) => draw({ ...stored, status: current.status }, stored)),
      ),
    );
    if (saved) {
      // The form is redrawn: the message takes focus rather than focus being lost with the old form.
      const message = h('p', { class: 'success', id: 'notify-saved', tabindex: '-1' }, savedMessage(saved));
      context.main.querySelector('#notify-result')?.replaceChildren(message);
      message.focus();
    }
  };
  draw(settings);
}

export const notifications: View = {
  id: 'notifications',
  title: 'Notifications',
  shows: () => true,
  render,
};
