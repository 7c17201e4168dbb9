// Stripe emulator: Invoices and InvoiceItems for postpaid billing, kept small: draft → open (finalize) →
// paid / void / uncollectible, `send_invoice` with a due date and a hosted page, `invoice.overdue` once the
// due date passes on the clock. Payment is out of band or on the hosted page; no PaymentIntent is modelled.
import Stripe from 'stripe';
import type { EmulatorContext } from '../context.ts';
import { invalidRequest } from '../errors.ts';
import { mergeMetadata, missingParam, type ParamReader } from '../form.ts';
import { newId, unixNow } from '../ids.ts';
import { idOf, requireCustomer, requireInvoice } from './lookup.ts';
import { readCurrency } from './payment-intents.ts';

const DAY = 86_400;

function totals(invoice: Stripe.Invoice): void {
  const total = invoice.lines.data.reduce((sum, line) => sum + line.amount, 0);
  invoice.subtotal = total;
  invoice.subtotal_excluding_tax = total;
  invoice.total = total;
  invoice.total_excluding_tax = total;
  invoice.amount_due = Math.max(total, 0);
  invoice.amount_remaining = Math.max(total, 0) - invoice.amount_paid;
}

type InvoiceInit = {
  collection: Stripe.Invoice.CollectionMethod;
  autoAdvance: boolean;
  billingReason: Stripe.Invoice.BillingReason;
  currency: string;
  description: string | null;
  dueDate: number | null;
  footer: string | null;
  metadata: Record<string, string>;
};

/** A draft invoice for `customer`, stored; the caller adds lines and moves it on. */
function newInvoice(ctx: EmulatorContext, customer: Stripe.Customer, init: InvoiceInit): Stripe.Invoice {
  const id = newId('in');
  const created = unixNow();
  const invoice: Stripe.Invoice = {
    id,
    object: 'invoice',
    account_country: 'US',
    account_name: 'Stripe Emulator',
    account_tax_ids: null,
    amount_due: 0,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: 0,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: init.autoAdvance,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null,
    billing_reason: init.billingReason,
    collection_method: init.collection,
    created,
    currency: init.currency,
    custom_fields: null,
    customer: customer.id,
    customer_account: null,
    customer_address: null,
    customer_email: customer.email,
    customer_name: customer.name ?? null,
    customer_phone: customer.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: 'none',
    customer_tax_ids: [],
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: init.description,
    discounts: [],
    due_date: init.dueDate,
    effective_at: null,
    ending_balance: null,
    footer: init.footer,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: 'self' },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: 'list', data: [], has_more: false, url: `/v1/invoices/${id}/lines` },
    livemode: false,
    metadata: init.metadata,
    next_payment_attempt: null,
    number: null,
    on_behalf_of: null,
    parent: null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: created,
    period_start: created,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: 'draft',
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: 0,
    subtotal_excluding_tax: 0,
    test_clock: null,
    total: 0,
    total_discount_amounts: [],
    total_excluding_tax: 0,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
  };
  ctx.store.invoices.set(id, invoice);
  return invoice;
}

export function createInvoice(ctx: EmulatorContext, params: ParamReader): Stripe.Invoice {
  params.allow<Stripe.InvoiceCreateParams>([
    'customer',
    'collection_method',
    'days_until_due',
    'due_date',
    'pending_invoice_items_behavior',
    'metadata',
    'description',
    'currency',
    'auto_advance',
    'footer',
  ]);
  const customerId = params.string('customer');
  if (!customerId) throw missingParam('customer');
  const customer = requireCustomer(ctx, customerId, 'customer');
  const collection =
    params.oneOf('collection_method', ['charge_automatically', 'send_invoice']) ?? 'charge_automatically';
  const days = params.integer('days_until_due', { min: 0, max: 3650 });
  const dueDate = params.integer('due_date');
  const created = unixNow();
  if (collection === 'send_invoice' && days === undefined && dueDate === undefined) {
    throw invalidRequest(
      'Invoices with `collection_method=send_invoice` must have either `due_date` or `days_until_due` set.',
      {
        param: 'days_until_due',
      },
    );
  }
  if (collection === 'charge_automatically' && (days !== undefined || dueDate !== undefined)) {
    throw invalidRequest(
      '`days_until_due` and `due_date` can only be set when `collection_method` is `send_invoice`.',
      {
        param: days !== undefined ? 'days_until_due' : 'due_date',
      },
    );
  }
  const invoice = newInvoice(ctx, customer, {
    collection,
    autoAdvance: params.boolean('auto_advance') ?? false,
    billingReason: 'manual',
    currency: params.has('currency') ? readCurrency(params) : 'usd',
    description: params.string('description') ?? null,
    dueDate: dueDate ?? (days === undefined ? null : created + days * DAY),
    footer: params.string('footer') ?? null,
    metadata: mergeMetadata({}, params.metadata()),
  });
  // `exclude` is the default since API 2022-08-01: pending items stay pending unless asked for.
  if (params.oneOf('pending_invoice_items_behavior', ['exclude', 'include']) === 'include') {
    for (const item of ctx.store.invoiceItems.values()) {
      if (item.customer === customer.id && item.invoice === null && item.currency === invoice.currency) {
        addLine(invoice, item);
      }
    }
    totals(invoice);
  }
  ctx.events.emit('invoice.created', invoice);
  return invoice;
}

function addLine(invoice: Stripe.Invoice, item: Stripe.InvoiceItem): void {
  item.invoice = invoice.id;
  invoice.lines.data.push({
    id: newId('il'),
    object: 'line_item',
    amount: item.amount,
    currency: item.currency,
    description: item.description,
    discount_amounts: [],
    discountable: item.discountable,
    discounts: [],
    invoice: invoice.id,
    livemode: false,
    metadata: { ...(item.metadata ?? {}) },
    parent: {
      invoice_item_details: {
        invoice_item: item.id,
        proration: false,
        proration_details: { credited_items: null },
        subscription: null,
      },
      subscription_item_details: null,
      type: 'invoice_item_details',
    },
    period: { ...item.period },
    pretax_credit_amounts: [],
    pricing: null,
    quantity: item.quantity,
    quantity_decimal: Stripe.Decimal.from(String(item.quantity)),
    subscription: null,
    subtotal: item.amount,
    taxes: [],
  });
}

export function createInvoiceItem(ctx: EmulatorContext, params: ParamReader): Stripe.InvoiceItem {
  params.allow<Stripe.InvoiceItemCreateParams>([
    'customer',
    'invoice',
    'amount',
    'currency',
    'description',
    'period',
    'metadata',
    'discountable',
  ]);
  const customerId = params.string('customer');
  if (!customerId) throw missingParam('customer');
  requireCustomer(ctx, customerId, 'customer');
  const invoiceId = params.string('invoice');
  const invoice = invoiceId ? requireInvoice(ctx, invoiceId, 'invoice') : undefined;
  if (invoice && invoice.status !== 'draft') {
    throw invalidRequest(
      `You can only add invoice items to draft invoices; ${invoice.id} is ${invoice.status}.`,
      {
        param: 'invoice',
        code: 'invoice_not_editable',
      },
    );
  }
  if (invoice && idOf(invoice.customer) !== customerId) {
    throw invalidRequest(`Invoice ${invoice.id} belongs to another customer.`, { param: 'invoice' });
  }
  const amount = params.requiredInteger('amount', { min: -99_999_999, max: 99_999_999 });
  const currency = params.has('currency') ? readCurrency(params) : (invoice?.currency ?? 'usd');
  if (invoice && invoice.currency !== currency) {
    throw invalidRequest(
      `The invoice item's currency (${currency}) must match the invoice's (${invoice.currency}).`,
      {
        param: 'currency',
      },
    );
  }
  const now = unixNow();
  const period = params.object('period');
  period?.allow<Stripe.InvoiceItemCreateParams.Period>(['start', 'end']);
  const item: Stripe.InvoiceItem = {
    id: newId('ii'),
    object: 'invoiceitem',
    amount,
    currency,
    customer: customerId,
    customer_account: null,
    date: now,
    description: params.string('description') ?? null,
    discountable: params.boolean('discountable') ?? amount >= 0,
    discounts: [],
    invoice: null,
    livemode: false,
    metadata: mergeMetadata({}, params.metadata()),
    net_amount: amount,
    parent: null,
    period: period
      ? { start: period.requiredInteger('start'), end: period.requiredInteger('end') }
      : { start: now, end: now },
    pricing: null,
    proration: false,
    quantity: 1,
    quantity_decimal: Stripe.Decimal.from('1'),
    tax_rates: [],
    test_clock: null,
  };
  ctx.store.invoiceItems.set(item.id, item);
  ctx.events.emit('invoiceitem.created', item);
  if (invoice) {
    const before = amounts(invoice);
    addLine(invoice, item);
    totals(invoice);
    ctx.events.emit('invoice.updated', invoice, before);
  }
  return item;
}

function amounts(invoice: Stripe.Invoice) {
  return { amount_due: invoice.amount_due, total: invoice.total, subtotal: invoice.subtotal };
}

function requireStatus(invoice: Stripe.Invoice, allowed: string[], action: string): void {
  if (!allowed.includes(invoice.status ?? '')) {
    throw invalidRequest(
      `You can only ${action} an invoice whose status is ${allowed.join(' or ')}; ${invoice.id} is ${invoice.status}.`,
      { code: 'invoice_not_editable' },
    );
  }
}

function markPaid(ctx: EmulatorContext, invoice: Stripe.Invoice, outOfBand: boolean): Stripe.Invoice {
  invoice.status = 'paid';
  invoice.amount_paid = invoice.amount_due;
  invoice.amount_remaining = 0;
  invoice.attempted = true;
  invoice.status_transitions.paid_at = unixNow();
  if (!outOfBand) {
    invoice.attempt_count += 1;
    ctx.events.emit('invoice.payment_succeeded', invoice);
  }
  ctx.events.emit('invoice.paid', invoice);
  return invoice;
}

/** Numbers the invoice from its customer's sequence and opens it, with its hosted page and PDF. */
function openInvoice(ctx: EmulatorContext, invoice: Stripe.Invoice): void {
  const customer = requireCustomer(ctx, idOf(invoice.customer)!);
  const sequence = customer.next_invoice_sequence ?? 1;
  customer.next_invoice_sequence = sequence + 1;
  const now = unixNow();
  invoice.number = `${customer.invoice_prefix}-${String(sequence).padStart(4, '0')}`;
  invoice.status = 'open';
  invoice.effective_at = now;
  invoice.status_transitions.finalized_at = now;
  invoice.hosted_invoice_url = `${ctx.baseUrl}/invoices/${invoice.id}`;
  invoice.invoice_pdf = `${ctx.baseUrl}/invoices/${invoice.id}/pdf`;
}

/**
 * The invoice of a paid Checkout Session with `invoice_creation.enabled` (Stripe's post-payment invoice for
 * one-time payments): made from the session's line items and `invoice_data`, finalized and paid at once,
 * and named on the session (`invoice`). Once per session.
 */
export function invoiceCheckoutSession(
  ctx: EmulatorContext,
  session: Stripe.Checkout.Session,
  lineItems: Stripe.LineItem[],
): Stripe.Invoice | undefined {
  if (!session.invoice_creation?.enabled || session.invoice) return undefined;
  const customer = requireCustomer(ctx, idOf(session.customer)!);
  const data = session.invoice_creation.invoice_data;
  const invoice = newInvoice(ctx, customer, {
    collection: 'charge_automatically',
    autoAdvance: false,
    billingReason: 'manual',
    currency: session.currency ?? 'usd',
    description: data.description,
    dueDate: null,
    footer: data.footer,
    metadata: { ...(data.metadata ?? {}) },
  });
  ctx.events.emit('invoice.created', invoice);
  const now = unixNow();
  for (const line of lineItems) {
    const item: Stripe.InvoiceItem = {
      id: newId('ii'),
      object: 'invoiceitem',
      amount: line.amount_total,
      currency: line.currency,
      customer: customer.id,
      customer_account: null,
      date: now,
      description: line.description ?? null,
      discountable: false,
      discounts: [],
      invoice: null,
      livemode: false,
      metadata: { ...(line.metadata ?? {}) },
      net_amount: line.amount_total,
      parent: null,
      period: { start: now, end: now },
      pricing: null,
      proration: false,
      quantity: line.quantity ?? 1,
      quantity_decimal: Stripe.Decimal.from(String(line.quantity ?? 1)),
      tax_rates: [],
      test_clock: null,
    };
    ctx.store.invoiceItems.set(item.id, item);
    addLine(invoice, item);
  }
  totals(invoice);
  openInvoice(ctx, invoice);
  ctx.events.emit('invoice.finalized', invoice);
  session.invoice = invoice.id;
  return markPaid(ctx, invoice, false);
}

export function finalizeInvoice(ctx: EmulatorContext, id: string, params: ParamReader): Stripe.Invoice {
  params.allow<Stripe.InvoiceFinalizeInvoiceParams>(['auto_advance']);
  const invoice = requireInvoice(ctx, id);
  requireStatus(invoice, ['draft'], 'finalize');
  openInvoice(ctx, invoice);
  invoice.auto_advance = params.boolean('auto_advance') ?? invoice.auto_advance;
  totals(invoice);
  ctx.events.emit('invoice.finalized', invoice);
  // Stripe settles a zero-amount invoice as soon as it is finalized.
  if (invoice.amount_due === 0) markPaid(ctx, invoice, true);
  return invoice;
}

export function sendInvoice(ctx: EmulatorContext, id: string): Stripe.Invoice {
  const invoice = requireInvoice(ctx, id);
  if (invoice.collection_method !== 'send_invoice') {
    throw invalidRequest("You can only manually send an invoice if its collection method is 'send_invoice'.");
  }
  requireStatus(invoice, ['open'], 'send');
  ctx.events.emit('invoice.sent', invoice);
  return invoice;
}

export function payInvoice(ctx: EmulatorContext, id: string, params: ParamReader): Stripe.Invoice {
  params.allow<Stripe.InvoicePayParams>(['paid_out_of_band']);
  const invoice = requireInvoice(ctx, id);
  requireStatus(invoice, ['open', 'uncollectible'], 'pay');
  if (params.boolean('paid_out_of_band') !== true) {
    throw invalidRequest(
      'The local Stripe emulator pays invoices out of band only (`paid_out_of_band=true`); the customer pays on the hosted invoice page.',
      { param: 'paid_out_of_band' },
    );
  }
  return markPaid(ctx, invoice, true);
}

/** The customer paid on the hosted invoice page. */
export function settleInvoiceOnPage(ctx: EmulatorContext, id: string): Stripe.Invoice {
  const invoice = requireInvoice(ctx, id);
  requireStatus(invoice, ['open', 'uncollectible'], 'pay');
  return markPaid(ctx, invoice, false);
}

export function failInvoicePayment(ctx: EmulatorContext, id: string): Stripe.Invoice {
  const invoice = requireInvoice(ctx, id);
  invoice.attempted = true;
  invoice.attempt_count += 1;
  ctx.events.emit('invoice.payment_failed', invoice);
  return invoice;
}

export function voidInvoice(ctx: EmulatorContext, id: string): Stripe.Invoice {
  const invoice = requireInvoice(ctx, id);
  requireStatus(invoice, ['open', 'uncollectible'], 'void');
  invoice.status = 'void';
  invoice.amount_remaining = 0;
  invoice.status_transitions.voided_at = unixNow();
  ctx.events.emit('invoice.voided', invoice);
  return invoice;
}

export function markUncollectible(ctx: EmulatorContext, id: string): Stripe.Invoice {
  const invoice = requireInvoice(ctx, id);
  requireStatus(invoice, ['open'], 'mark uncollectible');
  invoice.status = 'uncollectible';
  invoice.status_transitions.marked_uncollectible_at = unixNow();
  ctx.events.emit('invoice.marked_uncollectible', invoice);
  return invoice;
}

/** `invoice.overdue` once for each open invoice whose due date has passed on the clock. */
export function notifyOverdueInvoices(ctx: EmulatorContext): void {
  const now = unixNow();
  for (const invoice of ctx.store.invoices.values()) {
    if (invoice.status !== 'open' || invoice.due_date === null || invoice.due_date > now) continue;
    if (ctx.store.overdueNotified.has(invoice.id)) continue;
    ctx.store.overdueNotified.add(invoice.id);
    ctx.events.emit('invoice.overdue', invoice);
  }
}

export function listInvoices(ctx: EmulatorContext, params: ParamReader): Stripe.Invoice[] {
  const customer = params.string('customer');
  const status = params.string('status');
  return [...ctx.store.invoices.values()]
    .filter(
      (invoice) => (!customer || invoice.customer === customer) && (!status || invoice.status === status),
    )
    .reverse();
}

export function listInvoiceItems(ctx: EmulatorContext, params: ParamReader): Stripe.InvoiceItem[] {
  const customer = params.string('customer');
  const invoice = params.string('invoice');
  const pending = params.boolean('pending');
  return [...ctx.store.invoiceItems.values()]
    .filter(
      (item) =>
        (!customer || item.customer === customer) &&
        (!invoice || item.invoice === invoice) &&
        (pending === undefined || (item.invoice === null) === pending),
    )
    .reverse();
}
