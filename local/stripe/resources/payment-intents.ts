// Stripe emulator: the PaymentIntents API. Off-session charges (`off_session=true&confirm=true` with a
// saved method) answer as the saved test card dictates: 4242 succeeds, 3184 `authentication_required`,
// 0341 `card_declined`, each a 402 `card_error` carrying the intent left in `requires_payment_method`.
import type Stripe from 'stripe';
import { laterDecline } from '../cards.ts';
import type { EmulatorContext } from '../context.ts';
import { invalidRequest } from '../errors.ts';
import { mergeMetadata, type ParamReader } from '../form.ts';
import { awaitBankTransfer, sessionOfIntent } from './bank-transfers.ts';
import { idOf, requireCustomer, requirePaymentIntent, requirePaymentMethod } from './lookup.ts';
import { defaultTransferType, intentMethodOptions, readMethodOptions } from './method-options.ts';
import {
  cancelIntent,
  declinePayment,
  newPaymentIntent,
  requireAuthentication,
  saveMethodIfAsked,
  succeedPayment,
} from './payments.ts';

export const emulatedMethodTypes = ['card', 'paypal', 'customer_balance'] as const;

/** Stripe's minimum charge amounts, in the smallest unit, for the currencies a test is likely to use. */
const minimumAmount: Record<string, number> = { usd: 50, eur: 50, gbp: 30, cad: 50, aud: 50, jpy: 50 };

function readAmount(params: ParamReader, currency: string): number {
  const amount = params.requiredInteger('amount', { min: 1, max: 99_999_999 });
  const minimum = minimumAmount[currency] ?? 50;
  if (amount < minimum) {
    throw invalidRequest(`Amount must be at least ${minimum} ${currency} (in the smallest currency unit).`, {
      param: 'amount',
      code: 'amount_too_small',
    });
  }
  return amount;
}

export function readCurrency(params: ParamReader, key = 'currency'): string {
  const currency = params.requiredString(key).toLowerCase();
  if (!/^[a-z]{3}$/.test(currency)) {
    throw invalidRequest(`Invalid currency: ${currency}.`, { param: params.name(key) });
  }
  return currency;
}

/** A method can be used by the intent's customer only: attached to it, or never used before. */
function checkMethodOwner(ctx: EmulatorContext, method: Stripe.PaymentMethod, customer: string | null): void {
  const owner = idOf(method.customer);
  if (owner && !customer) {
    throw invalidRequest(
      `The provided PaymentMethod ${method.id} belongs to a Customer. Please include the Customer in the \`customer\` parameter on the PaymentIntent.`,
      { param: 'customer' },
    );
  }
  if (owner && owner !== customer) {
    throw invalidRequest(
      `The provided PaymentMethod ${method.id} does not belong to the Customer ${customer}.`,
      {
        param: 'payment_method',
      },
    );
  }
  const used = [...ctx.store.charges.values()].some((charge) => charge.payment_method === method.id);
  if (!owner && used) {
    throw invalidRequest(
      'The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.',
      { param: 'payment_method' },
    );
  }
}

export function createPaymentIntent(ctx: EmulatorContext, params: ParamReader): Stripe.PaymentIntent {
  params.allow<Stripe.PaymentIntentCreateParams & { payment_method_types: string[] }>([
    'amount',
    'currency',
    'customer',
    'payment_method',
    'off_session',
    'confirm',
    'metadata',
    'description',
    'payment_method_options',
    'payment_method_types',
    'allowed_payment_method_types',
    'automatic_payment_methods',
    'setup_future_usage',
    'receipt_email',
    'statement_descriptor',
    'return_url',
    'error_on_requires_action',
  ]);
  const currency = readCurrency(params);
  const amount = readAmount(params, currency);
  const customer = params.string('customer') || null;
  if (customer) requireCustomer(ctx, customer, 'customer');
  const methodId = params.string('payment_method');
  const method = methodId ? requirePaymentMethod(ctx, methodId, 'payment_method') : undefined;
  if (method) checkMethodOwner(ctx, method, customer);
  const confirm = params.boolean('confirm') ?? false;
  const offSessionText = params.string('off_session');
  const offSession = offSessionText !== undefined && offSessionText !== 'false';
  if (offSession && !confirm) {
    throw invalidRequest('`off_session` can only be used when `confirm` is true.', { param: 'off_session' });
  }
  const explicitTypes =
    params.stringList('payment_method_types') ?? params.stringList('allowed_payment_method_types');
  for (const type of explicitTypes ?? []) {
    if (!(emulatedMethodTypes as readonly string[]).includes(type)) {
      throw invalidRequest(
        `The payment method type "${type}" is not emulated (card, paypal, customer_balance).`,
        {
          param: 'payment_method_types',
        },
      );
    }
  }
  const types = explicitTypes ?? [...emulatedMethodTypes];
  const options = readMethodOptions(params);
  const intent = newPaymentIntent(ctx, {
    amount,
    currency,
    customer,
    description: params.string('description') ?? null,
    metadata: mergeMetadata({}, params.metadata()),
    paymentMethodTypes: types,
    automaticPaymentMethods: !explicitTypes,
    paymentMethodOptions: intentMethodOptions(options, types, currency),
    setupFutureUsage: params.oneOf('setup_future_usage', ['off_session', 'on_session']) ?? null,
    receiptEmail: params.string('receipt_email') ?? null,
    statementDescriptor: params.string('statement_descriptor') ?? null,
  });
  if (method) {
    intent.payment_method = method.id;
    intent.status = 'requires_confirmation';
  }
  if (!confirm) return intent;
  if (!method) {
    throw invalidRequest(
      "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent with a customer, you must provide a payment method.",
      { code: 'payment_intent_unexpected_state' },
    );
  }
  return confirmWith(ctx, intent, method, offSession);
}

function confirmWith(
  ctx: EmulatorContext,
  intent: Stripe.PaymentIntent,
  method: Stripe.PaymentMethod,
  offSession: boolean,
): Stripe.PaymentIntent {
  if (intent.status !== 'requires_payment_method' && intent.status !== 'requires_confirmation') {
    throw invalidRequest(
      `You cannot confirm this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, requires_payment_method.`,
      { code: 'payment_intent_unexpected_state' },
    );
  }
  if (!intent.payment_method_types.includes(method.type)) {
    throw invalidRequest(
      `The PaymentMethod provided (${method.type}) is not allowed for this PaymentIntent. Please attach a PaymentMethod of one of the following types: ${intent.payment_method_types.join(', ')}.`,
      { param: 'payment_method', code: 'payment_intent_incompatible_payment_method' },
    );
  }
  if (method.type === 'customer_balance') {
    const transferType =
      intent.payment_method_options?.customer_balance?.bank_transfer?.type ??
      defaultTransferType(intent.currency);
    return awaitBankTransfer(ctx, intent, method, transferType);
  }
  if (method.type === 'card') {
    const outcome = laterDecline(ctx.store.cardBehaviour.get(method.id) ?? 'succeeds', offSession);
    if (outcome === 'requires_action') return requireAuthentication(ctx, intent, method);
    if (outcome) throw declinePayment(ctx, intent, method, outcome);
  }
  saveMethodIfAsked(ctx, intent, method);
  return succeedPayment(ctx, intent, method);
}

export function confirmPaymentIntent(
  ctx: EmulatorContext,
  id: string,
  params: ParamReader,
): Stripe.PaymentIntent {
  params.allow<Stripe.PaymentIntentConfirmParams>(['payment_method', 'off_session', 'return_url']);
  const intent = requirePaymentIntent(ctx, id);
  const methodId = params.string('payment_method') ?? idOf(intent.payment_method);
  if (!methodId) {
    throw invalidRequest("You cannot confirm this PaymentIntent because it's missing a payment method.", {
      code: 'payment_intent_unexpected_state',
    });
  }
  const method = requirePaymentMethod(ctx, methodId, 'payment_method');
  checkMethodOwner(ctx, method, idOf(intent.customer));
  const offSessionText = params.string('off_session');
  return confirmWith(ctx, intent, method, offSessionText !== undefined && offSessionText !== 'false');
}

export function updatePaymentIntent(
  ctx: EmulatorContext,
  id: string,
  params: ParamReader,
): Stripe.PaymentIntent {
  params.allow<Stripe.PaymentIntentUpdateParams>(['metadata', 'description', 'receipt_email']);
  const intent = requirePaymentIntent(ctx, id);
  intent.metadata = mergeMetadata(intent.metadata, params.metadata());
  const description = params.string('description');
  if (description !== undefined) intent.description = description || null;
  const receiptEmail = params.string('receipt_email');
  if (receiptEmail !== undefined) intent.receipt_email = receiptEmail || null;
  return intent;
}

const cancelable = [
  'requires_payment_method',
  'requires_capture',
  'requires_confirmation',
  'requires_action',
  'processing',
];

export function cancelPaymentIntent(
  ctx: EmulatorContext,
  id: string,
  params: ParamReader,
): Stripe.PaymentIntent {
  params.allow<Stripe.PaymentIntentCancelParams>(['cancellation_reason']);
  const intent = requirePaymentIntent(ctx, id);
  if (!cancelable.includes(intent.status)) {
    throw invalidRequest(
      `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${cancelable.join(', ')}.`,
      { code: 'payment_intent_unexpected_state' },
    );
  }
  if (sessionOfIntent(ctx, id)?.status === 'open') {
    throw invalidRequest(
      'You cannot cancel this PaymentIntent because it was created by Checkout. Expire the Checkout Session instead.',
      { code: 'payment_intent_unexpected_state' },
    );
  }
  const reason = params.oneOf('cancellation_reason', [
    'abandoned',
    'duplicate',
    'fraudulent',
    'requested_by_customer',
  ]);
  return cancelIntent(ctx, intent, reason ?? null);
}

export function listPaymentIntents(ctx: EmulatorContext, params: ParamReader): Stripe.PaymentIntent[] {
  const customer = params.string('customer');
  return [...ctx.store.paymentIntents.values()]
    .filter((intent) => !customer || intent.customer === customer)
    .reverse();
}
