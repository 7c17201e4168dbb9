// Stripe emulator: Checkout Sessions in `mode=payment`. As on Stripe (API versions since 2022-08-01) the
// PaymentIntent is created when the customer first submits the hosted page, not with the session; a declined
// attempt leaves the session open with that intent for another try; expiry cancels it.
import Stripe from 'stripe';
import type { EmulatorContext } from '../context.ts';
import { invalidRequest } from '../errors.ts';
import { mergeMetadata, missingParam, type ParamReader } from '../form.ts';
import { newId, randomToken, unixNow } from '../ids.ts';
import type { OfferedType, SessionExtras } from '../store.ts';
import { idOf, requireCustomer, requireSession } from './lookup.ts';
import {
  defaultTransferType,
  type MethodOptions,
  readMethodOptions,
  sessionMethodOptions,
} from './method-options.ts';
import { emulatedMethodTypes, readCurrency } from './payment-intents.ts';
import { cancelIntent } from './payments.ts';

const MINUTE = 60;
const DAY = 86_400;

function readUrl(params: ParamReader, key: string): string | null {
  const value = params.string(key);
  if (value === undefined) return null;
  try {
    const url = new URL(value.replaceAll('{CHECKOUT_SESSION_ID}', 'cs'));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw invalidRequest('Not a valid URL', { param: key, code: 'url_invalid' });
  }
  return value;
}

function readLineItems(params: ParamReader): { items: Stripe.LineItem[]; currency: string } {
  const lines = params.objectList('line_items');
  if (!lines || lines.length === 0) throw missingParam('line_items');
  const items: Stripe.LineItem[] = [];
  let currency: string | undefined;
  for (const line of lines) {
    line.allow<Stripe.Checkout.SessionCreateParams.LineItem>(['price_data', 'quantity', 'metadata']);
    const priceData = line.object('price_data');
    if (!priceData) {
      throw invalidRequest(
        'The local Stripe emulator knows no Prices: pass `price_data` with each line item.',
        {
          param: line.name('price_data'),
          code: 'parameter_missing',
        },
      );
    }
    priceData.allow<Stripe.Checkout.SessionCreateParams.LineItem.PriceData>([
      'currency',
      'unit_amount',
      'product_data',
      'tax_behavior',
    ]);
    const lineCurrency = readCurrency(priceData);
    if (currency && lineCurrency !== currency) {
      throw invalidRequest('All line items must have the same currency.', {
        param: priceData.name('currency'),
      });
    }
    currency = lineCurrency;
    const unitAmount = priceData.requiredInteger('unit_amount', { min: 0, max: 99_999_999 });
    const product = priceData.object('product_data');
    if (!product) throw missingParam(priceData.name('product_data'));
    product.allow<Stripe.Checkout.SessionCreateParams.LineItem.PriceData.ProductData>([
      'name',
      'description',
      'metadata',
      'images',
    ]);
    const name = product.requiredString('name');
    const quantity = line.integer('quantity', { min: 1, max: 999_999 });
    if (quantity === undefined) {
      throw invalidRequest(`Quantity is required. Add \`quantity\` to \`${line.path}\``, {
        param: line.name('quantity'),
        code: 'parameter_missing',
      });
    }
    const amount = unitAmount * quantity;
    items.push({
      id: newId('li'),
      object: 'item',
      adjustable_quantity: null,
      amount_discount: 0,
      amount_subtotal: amount,
      amount_tax: 0,
      amount_total: amount,
      currency: lineCurrency,
      description: name,
      metadata: mergeMetadata({}, line.metadata()),
      price: {
        id: newId('price'),
        object: 'price',
        active: false,
        billing_scheme: 'per_unit',
        created: unixNow(),
        currency: lineCurrency,
        custom_unit_amount: null,
        livemode: false,
        lookup_key: null,
        metadata: {},
        nickname: null,
        product: newId('prod'),
        recurring: null,
        tax_behavior:
          priceData.oneOf('tax_behavior', ['exclusive', 'inclusive', 'unspecified']) ?? 'unspecified',
        tiers_mode: null,
        transform_quantity: null,
        type: 'one_time',
        unit_amount: unitAmount,
        unit_amount_decimal: Stripe.Decimal.from(String(unitAmount)),
      },
      quantity,
    });
  }
  return { items, currency: currency! };
}

/**
 * The methods the hosted page offers. An explicit `payment_method_types` must all be emulated; otherwise
 * the dynamic set (card, PayPal, bank transfer) is filtered by `allowed_`/`excluded_payment_method_types`
 * and by what the requested `setup_future_usage` allows (bank transfers cannot be saved).
 */
function offeredTypes(params: ParamReader, futureUsage: string | null): OfferedType[] {
  const explicit = params.stringList('payment_method_types');
  const incompatible = (type: OfferedType) =>
    (type === 'customer_balance' && futureUsage !== null) ||
    (type === 'paypal' && futureUsage === 'on_session');
  if (explicit) {
    const types: OfferedType[] = [];
    for (const [index, type] of explicit.entries()) {
      if (!(emulatedMethodTypes as readonly string[]).includes(type)) {
        throw invalidRequest(
          `The payment method type "${type}" is not emulated (card, paypal, customer_balance).`,
          {
            param: `payment_method_types[${index}]`,
          },
        );
      }
      if (incompatible(type as OfferedType)) {
        throw invalidRequest(
          `payment_intent_data[setup_future_usage]=${futureUsage} is not supported by ${type}; set setup_future_usage per payment method in payment_method_options instead.`,
          { param: 'payment_intent_data[setup_future_usage]' },
        );
      }
      types.push(type as OfferedType);
    }
    return types;
  }
  const allowed = params.stringList('allowed_payment_method_types');
  const excluded = params.stringList('excluded_payment_method_types') ?? [];
  return emulatedMethodTypes.filter(
    (type) => (!allowed || allowed.includes(type)) && !excluded.includes(type) && !incompatible(type),
  );
}

function readExpiry(params: ParamReader, created: number): number {
  const expiresAt = params.integer('expires_at');
  if (expiresAt === undefined) return created + DAY;
  if (expiresAt < created + 30 * MINUTE) {
    throw invalidRequest(
      'The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.',
      {
        param: 'expires_at',
      },
    );
  }
  if (expiresAt > created + DAY) {
    throw invalidRequest(
      'The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.',
      {
        param: 'expires_at',
      },
    );
  }
  return expiresAt;
}

/**
 * `invoice_creation`: once the session is paid, an invoice (paid) is made for it, with these details.
 * Stripe answers `invoice_creation` on every payment-mode session (`enabled: false` when not asked for).
 */
function readInvoiceCreation(params: ParamReader): Stripe.Checkout.Session.InvoiceCreation {
  const creation = params.object('invoice_creation');
  creation?.allow<Stripe.Checkout.SessionCreateParams.InvoiceCreation>(['enabled', 'invoice_data']);
  const enabled = creation?.boolean('enabled');
  if (creation && enabled === undefined) throw missingParam(creation.name('enabled'));
  const data = creation?.object('invoice_data');
  data?.allow<Stripe.Checkout.SessionCreateParams.InvoiceCreation.InvoiceData>([
    'description',
    'metadata',
    'footer',
  ]);
  return {
    enabled: enabled ?? false,
    invoice_data: {
      account_tax_ids: null,
      custom_fields: null,
      description: data?.string('description') ?? null,
      footer: data?.string('footer') ?? null,
      issuer: null,
      metadata: mergeMetadata({}, data?.metadata()),
      rendering_options: null,
    },
  };
}

export function createCheckoutSession(ctx: EmulatorContext, params: ParamReader): Stripe.Checkout.Session {
  params.allow<Stripe.Checkout.SessionCreateParams & { payment_method_types: string[] }>([
    'mode',
    'line_items',
    'customer',
    'customer_email',
    'customer_creation',
    'success_url',
    'cancel_url',
    'metadata',
    'payment_intent_data',
    'payment_method_types',
    'allowed_payment_method_types',
    'excluded_payment_method_types',
    'payment_method_options',
    'expires_at',
    'client_reference_id',
    'locale',
    'submit_type',
    'billing_address_collection',
    'ui_mode',
    'invoice_creation',
  ]);
  const mode = params.string('mode');
  if (mode === undefined) throw missingParam('mode');
  if (mode !== 'payment') {
    throw invalidRequest(`The local Stripe emulator supports mode=payment only, not ${mode}.`, {
      param: 'mode',
    });
  }
  const uiMode = params.oneOf('ui_mode', ['hosted', 'hosted_page']);
  const customerId = params.string('customer') || null;
  const customerEmail = params.string('customer_email') || null;
  if (customerId && customerEmail) {
    throw invalidRequest('You may only specify one of these parameters: customer, customer_email.', {
      code: 'parameters_exclusive',
    });
  }
  const customer = customerId ? requireCustomer(ctx, customerId, 'customer') : null;
  const { items, currency } = readLineItems(params);
  const amount = items.reduce((total, item) => total + item.amount_total, 0);
  const intentData = params.object('payment_intent_data');
  intentData?.allow<Stripe.Checkout.SessionCreateParams.PaymentIntentData>([
    'metadata',
    'description',
    'setup_future_usage',
    'receipt_email',
    'statement_descriptor',
  ]);
  const futureUsage = intentData?.oneOf('setup_future_usage', ['off_session', 'on_session']) ?? null;
  const offered = offeredTypes(params, futureUsage);
  if (offered.length === 0) {
    throw invalidRequest('No payment method types are left to offer on this Checkout Session.', {
      param: 'payment_method_types',
    });
  }
  const methodOptions: MethodOptions = readMethodOptions(params);
  const created = unixNow();
  const id = `cs_test_${randomToken(58)}`;
  const session: Stripe.Checkout.Session = {
    id,
    object: 'checkout.session',
    adaptive_pricing: { enabled: false },
    after_expiration: null,
    allow_promotion_codes: null,
    allowed_payment_method_types: params.stringList('allowed_payment_method_types') ?? null,
    amount_subtotal: amount,
    amount_total: amount,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: params.oneOf('billing_address_collection', ['auto', 'required']) ?? null,
    cancel_url: readUrl(params, 'cancel_url'),
    client_reference_id: params.string('client_reference_id') ?? null,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created,
    currency,
    currency_conversion: null,
    custom_fields: [],
    custom_text: {
      after_submit: null,
      shipping_address: null,
      submit: null,
      terms_of_service_acceptance: null,
    },
    customer: customer?.id ?? null,
    customer_account: null,
    customer_creation: customer
      ? null
      : (params.oneOf('customer_creation', ['always', 'if_required']) ?? 'if_required'),
    customer_details: null,
    customer_email: customerEmail,
    discounts: [],
    expires_at: readExpiry(params, created),
    integration_identifier: null,
    invoice: null,
    invoice_creation: readInvoiceCreation(params),
    livemode: false,
    locale: params.string('locale') ?? null,
    managed_payments: null,
    metadata: mergeMetadata({}, params.metadata()),
    mode: 'payment',
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_collection: 'if_required',
    payment_method_configuration_details: null,
    payment_method_options: sessionMethodOptions(methodOptions, offered, currency),
    payment_method_types: offered,
    payment_status: 'unpaid',
    permissions: null,
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: 'open',
    submit_type: params.oneOf('submit_type', ['auto', 'book', 'donate', 'pay']) ?? null,
    subscription: null,
    success_url: readUrl(params, 'success_url'),
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: uiMode === 'hosted' ? 'hosted' : 'hosted_page',
    url: `${ctx.baseUrl}/checkout/${id}`,
    wallet_options: null,
  };
  ctx.store.sessions.set(id, session);
  ctx.store.sessionExtras.set(id, {
    offered,
    lineItems: items,
    paymentIntentData: {
      metadata: mergeMetadata({}, intentData?.metadata()),
      description: intentData?.string('description') ?? null,
      setupFutureUsage: futureUsage,
      receiptEmail: intentData?.string('receipt_email') ?? null,
    },
    methodOptions,
    bankTransferType: methodOptions.customerBalance?.transferType ?? defaultTransferType(currency),
  });
  return session;
}

export function extrasOf(ctx: EmulatorContext, sessionId: string): SessionExtras {
  const extras = ctx.store.sessionExtras.get(sessionId);
  if (!extras) throw new Error(`no extras for ${sessionId}`);
  return extras;
}

export function expireSession(ctx: EmulatorContext, id: string): Stripe.Checkout.Session {
  const session = requireSession(ctx, id);
  if (session.status !== 'open') {
    throw invalidRequest(
      `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of ${session.status}.`,
      { code: 'checkout_session_unexpected_state' },
    );
  }
  session.status = 'expired';
  const intentId = idOf(session.payment_intent);
  const intent = intentId ? ctx.store.paymentIntents.get(intentId) : undefined;
  if (intent && intent.status !== 'succeeded' && intent.status !== 'canceled')
    cancelIntent(ctx, intent, 'expired');
  ctx.events.emit('checkout.session.expired', session);
  return session;
}

/** Expires every open session whose `expires_at` has passed on the clock. */
export function expireDueSessions(ctx: EmulatorContext): void {
  const now = unixNow();
  for (const session of ctx.store.sessions.values()) {
    if (session.status === 'open' && session.expires_at <= now) expireSession(ctx, session.id);
  }
}

export function listCheckoutSessions(ctx: EmulatorContext, params: ParamReader): Stripe.Checkout.Session[] {
  const customer = params.string('customer');
  const intent = params.string('payment_intent');
  const status = params.string('status');
  return [...ctx.store.sessions.values()]
    .filter(
      (session) =>
        (!customer || session.customer === customer) &&
        (!intent || session.payment_intent === intent) &&
        (!status || session.status === status),
    )
    .reverse();
}
