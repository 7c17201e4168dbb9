// Stripe emulator: finding an object by id, or Stripe's `resource_missing` (404 for an id in the path,
// 400 naming the parameter for an id passed as one).
import type Stripe from 'stripe';
import type { EmulatorContext } from '../context.ts';
import { resourceMissing } from '../errors.ts';

export function requireCustomer(ctx: EmulatorContext, id: string, param?: string): Stripe.Customer {
  const found = ctx.store.customers.get(id);
  if (!found) throw resourceMissing('customer', id, param);
  return found;
}

export function requirePaymentMethod(ctx: EmulatorContext, id: string, param?: string): Stripe.PaymentMethod {
  const found = ctx.store.paymentMethods.get(id);
  if (!found) throw resourceMissing('payment_method', id, param);
  return found;
}

export function requirePaymentIntent(ctx: EmulatorContext, id: string, param?: string): Stripe.PaymentIntent {
  const found = ctx.store.paymentIntents.get(id);
  if (!found) throw resourceMissing('payment_intent', id, param);
  return found;
}

export function requireCharge(ctx: EmulatorContext, id: string, param?: string): Stripe.Charge {
  const found = ctx.store.charges.get(id);
  if (!found) throw resourceMissing('charge', id, param);
  return found;
}

export function requireRefund(ctx: EmulatorContext, id: string): Stripe.Refund {
  const found = ctx.store.refunds.get(id);
  if (!found) throw resourceMissing('refund', id);
  return found;
}

export function requireDispute(ctx: EmulatorContext, id: string): Stripe.Dispute {
  const found = ctx.store.disputes.get(id);
  if (!found) throw resourceMissing('dispute', id);
  return found;
}

export function requireSession(ctx: EmulatorContext, id: string): Stripe.Checkout.Session {
  const found = ctx.store.sessions.get(id);
  if (!found) throw resourceMissing('checkout.session', id);
  return found;
}

export function requireInvoice(ctx: EmulatorContext, id: string, param?: string): Stripe.Invoice {
  const found = ctx.store.invoices.get(id);
  if (!found) throw resourceMissing('invoice', id, param);
  return found;
}

export function requireInvoiceItem(ctx: EmulatorContext, id: string): Stripe.InvoiceItem {
  const found = ctx.store.invoiceItems.get(id);
  if (!found) throw resourceMissing('invoiceitem', id);
  return found;
}

/** The id of an expandable field, whether it holds an id or (after expansion) the object. */
export function idOf(value: string | { id: string } | null | undefined): string | null {
  if (!value) return null;
  return typeof value === 'string' ? value : value.id;
}
