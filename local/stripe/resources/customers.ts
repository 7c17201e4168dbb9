// Stripe emulator: Customers (create, retrieve, update with `invoice_settings[default_payment_method]`).
import type Stripe from 'stripe';
import type { EmulatorContext } from '../context.ts';
import { invalidRequest } from '../errors.ts';
import { mergeMetadata, type ParamReader } from '../form.ts';
import { newId, randomToken, unixNow } from '../ids.ts';
import { requireCustomer, requirePaymentMethod } from './lookup.ts';
import { attachPaymentMethod } from './payment-methods.ts';

const writable = [
  'description',
  'email',
  'name',
  'phone',
  'metadata',
  'invoice_settings',
  'preferred_locales',
] as const;

export function createCustomer(ctx: EmulatorContext, params: ParamReader): Stripe.Customer {
  params.allow<Stripe.CustomerCreateParams>([...writable, 'payment_method', 'invoice_prefix']);
  const customer = newCustomer(ctx, {
    email: params.string('email') || null,
    name: params.string('name') || null,
    description: params.string('description') ?? null,
    phone: params.string('phone') || null,
    metadata: mergeMetadata({}, params.metadata()),
    invoicePrefix: params.string('invoice_prefix'),
    preferredLocales: params.stringList('preferred_locales') ?? [],
  });
  const paymentMethod = params.string('payment_method');
  if (paymentMethod) {
    attachPaymentMethod(ctx, requirePaymentMethod(ctx, paymentMethod, 'payment_method'), customer.id);
  }
  applyInvoiceSettings(ctx, customer, params);
  return customer;
}

/** A customer created by the API or by a Checkout Session that needs one (saving a method, bank transfer). */
export function newCustomer(
  ctx: EmulatorContext,
  fields: {
    email: string | null;
    name?: string | null;
    description?: string | null;
    phone?: string | null;
    metadata?: Record<string, string>;
    invoicePrefix?: string | undefined;
    preferredLocales?: string[];
  },
): Stripe.Customer {
  const customer: Stripe.Customer = {
    id: newId('cus'),
    object: 'customer',
    address: null,
    balance: 0,
    created: unixNow(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: fields.description ?? null,
    discount: null,
    email: fields.email,
    invoice_prefix: fields.invoicePrefix ?? randomToken(8).toUpperCase(),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: fields.metadata ?? {},
    name: fields.name ?? null,
    next_invoice_sequence: 1,
    phone: fields.phone ?? null,
    preferred_locales: fields.preferredLocales ?? [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
  ctx.store.customers.set(customer.id, customer);
  ctx.events.emit('customer.created', customer);
  return customer;
}

function applyInvoiceSettings(ctx: EmulatorContext, customer: Stripe.Customer, params: ParamReader): void {
  const settings = params.object('invoice_settings');
  if (!settings) return;
  settings.allow<Stripe.CustomerUpdateParams.InvoiceSettings>(['default_payment_method', 'footer']);
  const methodId = settings.string('default_payment_method');
  if (methodId !== undefined) {
    if (methodId === '') {
      customer.invoice_settings.default_payment_method = null;
    } else {
      const param = settings.name('default_payment_method');
      const method = requirePaymentMethod(ctx, methodId, param);
      if (method.customer !== customer.id) {
        throw invalidRequest(
          `The customer does not have a payment method with the ID ${methodId}. The payment method must be attached to the customer.`,
          { param, code: 'resource_missing' },
        );
      }
      customer.invoice_settings.default_payment_method = methodId;
    }
  }
  const footer = settings.string('footer');
  if (footer !== undefined) customer.invoice_settings.footer = footer || null;
}

export function updateCustomer(ctx: EmulatorContext, id: string, params: ParamReader): Stripe.Customer {
  params.allow<Stripe.CustomerUpdateParams>([...writable]);
  const customer = requireCustomer(ctx, id);
  const before = structuredClone(customer);
  applyInvoiceSettings(ctx, customer, params);
  customer.metadata = mergeMetadata(customer.metadata, params.metadata());
  const email = params.string('email');
  if (email !== undefined) customer.email = email || null;
  const name = params.string('name');
  if (name !== undefined) customer.name = name || null;
  const phone = params.string('phone');
  if (phone !== undefined) customer.phone = phone || null;
  const description = params.string('description');
  if (description !== undefined) customer.description = description || null;
  const locales = params.stringList('preferred_locales');
  if (locales) customer.preferred_locales = locales;
  const previous = changedFields(before, customer);
  if (Object.keys(previous).length > 0) ctx.events.emit('customer.updated', customer, previous);
  return customer;
}

/** The top-level fields that changed, with their old values: an event's `previous_attributes`. */
function changedFields<T extends object>(before: T, after: T): Record<string, unknown> {
  const previous: Record<string, unknown> = {};
  for (const key of Object.keys(after) as (keyof T & string)[]) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) previous[key] = before[key];
  }
  return previous;
}

export function listCustomers(ctx: EmulatorContext, params: ParamReader): Stripe.Customer[] {
  const email = params.string('email');
  return [...ctx.store.customers.values()].filter((customer) => !email || customer.email === email).reverse();
}
