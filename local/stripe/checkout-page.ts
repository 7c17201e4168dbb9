// Stripe emulator: the hosted checkout page at a session's `url`. A person picks card / PayPal / bank
// transfer and submits; a script POSTs the same form (with `accept: application/json` for a JSON answer).
// Success answers 303 to `success_url`, a declined card re-renders the page with the error (402).
import type { IncomingMessage } from 'node:http';
import type Stripe from 'stripe';
import type { EmulatorContext } from './context.ts';
import { StripeApiError } from './errors.ts';
import { ParamReader } from './form.ts';
import { escapeHtml, formatMoney, layout } from './html.ts';
import { type Answer, html, json, parseLooseBody, redirect, wantsJson } from './http.ts';
import {
  type CheckoutSubmission,
  payCheckoutSession,
  successRedirect,
} from './resources/checkout-payments.ts';
import { extrasOf } from './resources/checkout-sessions.ts';

const methodLabels: Record<string, { value: CheckoutSubmission['payment_method']; label: string }> = {
  card: { value: 'card', label: 'Card' },
  paypal: { value: 'paypal', label: 'PayPal' },
  customer_balance: { value: 'bank_transfer', label: 'Bank transfer' },
};

function renderOpen(
  ctx: EmulatorContext,
  session: Stripe.Checkout.Session,
  error?: string,
  chosen?: string,
): string {
  const extras = extrasOf(ctx, session.id);
  const amount = formatMoney(session.amount_total ?? 0, session.currency ?? 'usd');
  const selected = chosen ?? methodLabels[extras.offered[0] ?? 'card']?.value;
  const radios = extras.offered
    .map((type) => methodLabels[type])
    .filter((method) => method !== undefined)
    .map(
      (method) =>
        `<label><input type="radio" name="payment_method" value="${method.value}"${method.value === selected ? ' checked' : ''}> ${method.label}</label>`,
    )
    .join('\n');
  const items = extras.lineItems
    .map(
      (item) =>
        `<li>${escapeHtml(item.description ?? 'Item')} × ${item.quantity ?? 1}: ${formatMoney(item.amount_total, item.currency)}</li>`,
    )
    .join('\n');
  const card = extras.offered.includes('card')
    ? `<label for="card_number">Card number</label>
<input type="text" id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number" aria-describedby="card-help"${error && selected === 'card' ? ' aria-invalid="true"' : ''}>
<p id="card-help" class="help">Test cards: 4242 4242 4242 4242 pays; 4000 0000 0000 9995 is declined (insufficient funds);
4000 0027 6000 3184 pays after authentication, later off-session charges need authentication;
4000 0000 0000 0341 pays, later off-session charges are declined.</p>`
    : '';
  const paypal = extras.offered.includes('paypal')
    ? `<label for="paypal_email">PayPal email (optional)</label>
<input type="email" id="paypal_email" name="paypal_email" autocomplete="email">`
    : '';
  const bank = extras.offered.includes('customer_balance')
    ? `<p class="help">Bank transfer: the order completes now and the transfer arrives ${
        Number.isFinite(ctx.fundingDelayMs)
          ? `about ${Math.round(ctx.fundingDelayMs / 1000)} s later`
          : 'when a test funds it'
      }.</p>`
    : '';
  const email = session.customer
    ? ''
    : `<label for="email">Email${session.customer_email ? '' : ' (optional)'}</label>
<input type="email" id="email" name="email" autocomplete="email" value="${escapeHtml(session.customer_email ?? '')}">`;
  const cancel = session.cancel_url
    ? `<p><a href="${escapeHtml(session.cancel_url)}">Cancel and go back</a></p>`
    : '';
  return layout(
    `Pay ${amount}`,
    `<h1>Checkout</h1>
<p class="amount">${amount}</p>
<ul>${items}</ul>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/checkout/${escapeHtml(session.id)}">
<fieldset>
<legend>Payment method</legend>
${radios}
</fieldset>
${card}
${paypal}
${bank}
${email}
<button type="submit">Pay ${amount}</button>
</form>
${cancel}`,
  );
}

function renderClosed(session: Stripe.Checkout.Session): string {
  const state =
    session.status === 'expired'
      ? 'This checkout session has expired.'
      : session.payment_status === 'paid'
        ? 'This checkout session is paid.'
        : 'This checkout session is complete; the payment is awaiting the bank transfer.';
  const next =
    session.success_url && session.status === 'complete' ? successRedirect(session) : session.cancel_url;
  return layout(
    'Checkout',
    `<h1>Checkout</h1>
<p role="status">${escapeHtml(state)}</p>
${next ? `<p><a href="${escapeHtml(next)}">Return to the merchant</a></p>` : ''}`,
  );
}

function readSubmission(fields: ParamReader): CheckoutSubmission {
  const method = fields.oneOf('payment_method', ['card', 'paypal', 'bank_transfer']);
  if (!method) {
    throw new StripeApiError(400, {
      type: 'invalid_request_error',
      code: 'parameter_missing',
      param: 'payment_method',
      message: 'Choose a payment method.',
    });
  }
  const submission: CheckoutSubmission = { payment_method: method };
  const cardNumber = fields.string('card_number');
  if (cardNumber !== undefined) submission.card_number = cardNumber;
  const expMonth = fields.integer('exp_month', { min: 1, max: 12 });
  if (expMonth !== undefined) submission.exp_month = expMonth;
  const expYear = fields.integer('exp_year', { min: 2000, max: 2100 });
  if (expYear !== undefined) submission.exp_year = expYear;
  const paypalEmail = fields.string('paypal_email');
  if (paypalEmail) submission.paypal_email = paypalEmail;
  const email = fields.string('email');
  if (email) submission.email = email;
  return submission;
}

/** `GET|POST /checkout/:id`; `undefined` for any other path. */
export function serveCheckoutPage(
  ctx: EmulatorContext,
  request: IncomingMessage,
  path: string,
  body: string,
): Answer | undefined {
  const id = /^\/checkout\/([^/]+)$/.exec(path)?.[1];
  if (id === undefined) return undefined;
  const session = ctx.store.sessions.get(decodeURIComponent(id));
  const asJson = wantsJson(request);
  if (!session) {
    return asJson
      ? json(404, { error: { type: 'invalid_request_error', message: 'No such checkout session.' } })
      : html(404, layout('Not found', '<h1>Checkout not found</h1><p>No such checkout session.</p>'));
  }
  if (request.method === 'GET') {
    if (asJson) return json(200, { status: session.status, payment_status: session.payment_status });
    return html(200, session.status === 'open' ? renderOpen(ctx, session) : renderClosed(session));
  }
  if (request.method !== 'POST') return html(405, layout('Not allowed', '<h1>Method not allowed</h1>'));
  let chosen: string | undefined;
  try {
    const fields = new ParamReader(parseLooseBody(request, body));
    chosen = fields.string('payment_method');
    const paid = payCheckoutSession(ctx, session.id, readSubmission(fields));
    const target = successRedirect(paid);
    if (asJson) {
      return json(200, {
        status: paid.status,
        payment_status: paid.payment_status,
        redirect: target,
        payment_intent: paid.payment_intent,
      });
    }
    return target
      ? redirect(target)
      : html(
          200,
          layout('Payment complete', '<h1>Thank you</h1><p role="status">Your payment is complete.</p>'),
        );
  } catch (error) {
    if (!(error instanceof StripeApiError)) throw error;
    if (asJson) return json(error.status, { error: error.body, status: session.status });
    if (session.status !== 'open') return html(error.status, renderClosed(session));
    return html(error.status, renderOpen(ctx, session, error.body.message, chosen));
  }
}
