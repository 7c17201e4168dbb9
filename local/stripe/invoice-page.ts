// Stripe emulator: the hosted invoice page (`hosted_invoice_url`). Shows what is due and takes a test card;
// 4242 (or any card the checkout page accepts) pays the invoice, a declined card reports the failure.
import type { IncomingMessage } from 'node:http';
import type Stripe from 'stripe';
import { cardOutcome } from './cards.ts';
import type { EmulatorContext } from './context.ts';
import { cardError, StripeApiError } from './errors.ts';
import { ParamReader } from './form.ts';
import { escapeHtml, formatMoney, layout } from './html.ts';
import { type Answer, html, json, parseLooseBody, wantsJson } from './http.ts';
import { failInvoicePayment, settleInvoiceOnPage } from './resources/invoices.ts';

function render(invoice: Stripe.Invoice, error?: string): string {
  const amount = formatMoney(invoice.amount_remaining, invoice.currency);
  const due = invoice.due_date ? new Date(invoice.due_date * 1000).toISOString().slice(0, 10) : 'on receipt';
  const payable = invoice.status === 'open' || invoice.status === 'uncollectible';
  const form = payable
    ? `${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/invoices/${escapeHtml(invoice.id)}">
<label for="card_number">Card number</label>
<input type="text" id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number">
<button type="submit">Pay ${amount}</button>
</form>`
    : `<p role="status">This invoice is ${escapeHtml(invoice.status ?? 'draft')}.</p>`;
  return layout(
    `Invoice ${invoice.number ?? invoice.id}`,
    `<h1>Invoice ${escapeHtml(invoice.number ?? invoice.id)}</h1>
<p class="amount">${amount}</p>
<p>Due: ${escapeHtml(due)}</p>
<ul>${invoice.lines.data
      .map(
        (line) =>
          `<li>${escapeHtml(line.description ?? 'Item')}: ${formatMoney(line.amount, line.currency)}</li>`,
      )
      .join('\n')}</ul>
${form}`,
  );
}

/** `GET|POST /invoices/:id`; `undefined` for any other path. */
export function serveInvoicePage(
  ctx: EmulatorContext,
  request: IncomingMessage,
  path: string,
  body: string,
): Answer | undefined {
  const id = /^\/invoices\/([^/]+)$/.exec(path)?.[1];
  if (id === undefined) return undefined;
  const invoice = ctx.store.invoices.get(decodeURIComponent(id));
  const asJson = wantsJson(request);
  if (!invoice || invoice.status === 'draft') {
    return html(404, layout('Not found', '<h1>Invoice not found</h1>'));
  }
  if (request.method === 'GET')
    return asJson ? json(200, { status: invoice.status }) : html(200, render(invoice));
  if (request.method !== 'POST') return html(405, layout('Not allowed', '<h1>Method not allowed</h1>'));
  try {
    const fields = new ParamReader(parseLooseBody(request, body));
    const outcome = cardOutcome(fields.string('card_number') ?? '');
    if (outcome.kind !== 'pays') {
      if (outcome.kind === 'declined') failInvoicePayment(ctx, invoice.id);
      throw cardError(outcome.decline);
    }
    const paid = settleInvoiceOnPage(ctx, invoice.id);
    return asJson ? json(200, { status: paid.status }) : html(200, render(paid));
  } catch (error) {
    if (!(error instanceof StripeApiError)) throw error;
    return asJson
      ? json(error.status, { error: error.body, status: invoice.status })
      : html(error.status, render(invoice, error.body.message));
  }
}
