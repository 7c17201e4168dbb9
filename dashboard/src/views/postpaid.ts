// Dashboard › Spend limit and invoices (postpaid accounts only): the monthly limit editor and the invoices
// with their state and due dates.
import { ApiError, answer, client } from '../api.ts';
import { field, h, table } from '../dom.ts';
import { day, money, readAmount } from '../format.ts';
import {
  announce,
  busy,
  errorBox,
  fieldProblem,
  loading,
  page,
  roleBlock,
  section,
  type View,
  type ViewContext,
} from '../ui.ts';

const invoiceStates: Record<string, string> = {
  draft: 'Being prepared',
  open: 'Due',
  paid: 'Paid',
  void: 'Cancelled',
  uncollectible: 'Unpaid (written off)',
  past_due: 'Overdue',
  overdue: 'Overdue',
};

/** An open invoice whose due date has passed reads as overdue, not merely due. */
function invoiceBadge(invoice: { status: string; due_date?: string | null }): HTMLElement {
  const overdue =
    invoice.status === 'open' && invoice.due_date != null && Date.parse(invoice.due_date) < Date.now();
  const status = overdue ? 'overdue' : invoice.status;
  return h('span', { class: `badge badge-${status}` }, invoiceStates[status] ?? status);
}

function limitForm(context: ViewContext): HTMLElement {
  const current = context.credits.monthly_spend_limit ?? null;
  const input = h('input', { id: 'spend-limit', inputmode: 'decimal', value: current ?? '' });
  const save = h('button', { type: 'submit' }, 'Save limit');
  const remove = h(
    'button',
    { type: 'button', class: 'secondary', disabled: current === null },
    'Remove limit',
  );
  const result = h('div', {});
  const state = h(
    'p',
    { id: 'limit-state' },
    current === null
      ? 'No monthly limit: calls are never refused for spend.'
      : `Calls are refused (402) once this month's usage reaches ${money(current)}.`,
  );
  const send = async (limit: number | null, button: HTMLButtonElement) =>
    busy(button, async () => {
      try {
        await answer(client.PUT('/v1/billing/spend-limit', { body: { monthly_spend_limit: limit } }));
        const credits = await context.refreshCredits();
        if (!context.isCurrent()) return;
        const now = credits.monthly_spend_limit ?? null;
        const message =
          now === null ? 'The spend limit is removed.' : `The spend limit is now ${money(now)} a month.`;
        state.textContent = message;
        remove.disabled = now === null;
        input.value = now === null ? '' : String(now);
        announce(message);
      } catch (error) {
        result.replaceChildren(errorBox(error));
      }
    });
  const form = h(
    'form',
    { novalidate: true, class: 'stack' },
    state,
    field(
      'Monthly spend limit (USD)',
      input,
      'Calls beyond it answer 402 until next month or until you raise it.',
    ),
    h('div', { class: 'actions' }, save, remove),
    result,
  );
  // A viewer sees the limit but may not change it: the controls are disabled, with the reason.
  const blocked = roleBlock(context, 'billing', 'Changing the spend limit');
  if (blocked) {
    for (const control of [input, save, remove]) control.disabled = true;
    form.prepend(blocked);
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    result.replaceChildren();
    const check = readAmount(input.value, 0, 1_000_000_000);
    fieldProblem(input, check.ok ? null : check.problem);
    if (!check.ok) {
      input.focus();
      return;
    }
    void send(check.value, save);
  });
  remove.addEventListener('click', () => {
    result.replaceChildren();
    void send(null, remove);
  });
  return form;
}

async function drawInvoices(context: ViewContext, holder: HTMLElement): Promise<void> {
  try {
    const { data } = await answer(client.GET('/v1/billing/invoices'));
    if (!context.isCurrent()) return;
    holder.replaceChildren(
      data.length
        ? table(
            'Invoices, newest first',
            ['Period', 'Amount', 'State', 'Due', 'Invoice'],
            data.map((invoice) => [
              invoice.period,
              money(invoice.amount),
              invoiceBadge(invoice),
              invoice.due_date ? day(invoice.due_date) : '—',
              invoice.hosted_invoice_url
                ? h(
                    'a',
                    // A new tab: after paying on Stripe's page (which cannot send anyone back), this view is
                    // still here, where the payment started.
                    { href: invoice.hosted_invoice_url, target: '_blank', rel: 'noopener noreferrer' },
                    // A settled invoice has nothing left to pay: offering to pay it would read as still due.
                    invoice.status === 'paid' || invoice.status === 'void'
                      ? `View the ${invoice.period} invoice`
                      : `View or pay the ${invoice.period} invoice`,
                  )
                : '',
            ]),
          )
        : h('p', { class: 'muted' }, 'No invoices yet: the first one is issued after your first month.'),
    );
  } catch (error) {
    if (!context.isCurrent()) return;
    holder.replaceChildren(
      // The list itself is never 404 once the route exists; a 404 means this deployment has no invoices route.
      error instanceof ApiError && error.status === 404
        ? h('p', { class: 'muted' }, 'Invoices are not available on this deployment yet.')
        : errorBox(error, () => void drawInvoices(context, holder)),
    );
  }
}

async function render(context: ViewContext): Promise<void> {
  // The previous view must not stay on screen while the limit is read.
  page(context, 'Spend limit and invoices', loading('your spend limit'));
  await context.refreshCredits();
  if (!context.isCurrent()) return;
  const invoices = h('div', {}, loading('invoices'));
  page(
    context,
    'Spend limit and invoices',
    section('Monthly spend limit', limitForm(context)),
    section('Invoices', invoices),
  );
  await drawInvoices(context, invoices);
}

export const postpaid: View = {
  id: 'postpaid',
  title: 'Limit and invoices',
  shows: (credits) => credits.billing_mode === 'postpaid',
  render,
};
