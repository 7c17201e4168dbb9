// Stripe emulator: bank transfers (`customer_balance`). The intent waits in `requires_action` with
// funding instructions; funds arrive on their own after `fundingDelayMs` or when a test says so, partially
// (`payment_intent.partially_funded`) or in full (`succeeded`, and the Checkout Session's
// `async_payment_succeeded`), or never (`async_payment_failed`).
import type Stripe from 'stripe';
import { nowMs } from '#shared/clock.ts';
import type { EmulatorContext } from '../context.ts';
import { invalidRequest } from '../errors.ts';
import { randomToken } from '../ids.ts';
import { invoiceCheckoutSession } from './invoices.ts';
import { requirePaymentIntent, requirePaymentMethod } from './lookup.ts';
import { paymentAttemptExpired, succeedPayment } from './payments.ts';

type FinancialAddress = Stripe.PaymentIntent.NextAction.DisplayBankTransferInstructions.FinancialAddress;

const holderAddress: Stripe.Address = {
  city: 'San Francisco',
  country: 'US',
  line1: '354 Oyster Point Blvd',
  line2: null,
  postal_code: '94080',
  state: 'CA',
};

function financialAddress(type: string): FinancialAddress {
  const holder = { account_holder_address: holderAddress, account_holder_name: 'Stripe Emulator' };
  const bank_address = { ...holderAddress, line1: '1 Emulator Way' };
  if (type === 'us_bank_transfer') {
    return {
      type: 'aba',
      supported_networks: ['ach', 'domestic_wire_us'],
      aba: {
        ...holder,
        account_number: '000123456789',
        account_type: 'checking',
        bank_address,
        bank_name: 'Emulator Test Bank',
        routing_number: '110000000',
      },
    };
  }
  if (type === 'gb_bank_transfer') {
    return {
      type: 'sort_code',
      supported_networks: ['bacs', 'fps'],
      sort_code: { ...holder, account_number: '00012345', bank_address, sort_code: '108800' },
    };
  }
  return {
    type: 'iban',
    supported_networks: ['sepa'],
    iban: { ...holder, bank_address, bic: 'SXPYDEHH', country: 'DE', iban: 'DE00000000000000000000' },
  };
}

function instructionsOf(intent: Stripe.PaymentIntent) {
  return intent.next_action?.display_bank_transfer_instructions;
}

export function sessionOfIntent(ctx: EmulatorContext, intentId: string): Stripe.Checkout.Session | undefined {
  for (const session of ctx.store.sessions.values()) {
    if (session.payment_intent === intentId) return session;
  }
  return undefined;
}

/** Puts `intent` in `requires_action` with the account to pay into, and arms the automatic funding. */
export function awaitBankTransfer(
  ctx: EmulatorContext,
  intent: Stripe.PaymentIntent,
  method: Stripe.PaymentMethod,
  transferType: string,
): Stripe.PaymentIntent {
  if (!intent.customer) {
    throw invalidRequest('A customer is required to pay with customer_balance (bank transfer).', {
      param: 'customer',
    });
  }
  const reference = randomToken(12).toUpperCase();
  intent.status = 'requires_action';
  intent.payment_method = method.id;
  intent.next_action = {
    type: 'display_bank_transfer_instructions',
    display_bank_transfer_instructions: {
      amount_remaining: intent.amount,
      currency: intent.currency,
      financial_addresses: [financialAddress(transferType)],
      hosted_instructions_url: null,
      reference,
      type: transferType,
    },
  };
  const delay = ctx.fundingDelayMs;
  ctx.store.pendingTransfers.set(intent.id, { fundAt: nowMs() + delay, reference });
  if (Number.isFinite(delay)) ctx.scheduleFunding(intent.id, delay);
  ctx.events.emit('payment_intent.requires_action', intent);
  return intent;
}

function requirePending(ctx: EmulatorContext, id: string) {
  const intent = requirePaymentIntent(ctx, id);
  const instructions = instructionsOf(intent);
  if (!ctx.store.pendingTransfers.has(id) || intent.status !== 'requires_action' || !instructions) {
    throw invalidRequest(`PaymentIntent ${id} is not awaiting a bank transfer (status: ${intent.status}).`, {
      code: 'payment_intent_unexpected_state',
    });
  }
  return { intent, instructions };
}

/**
 * Funds arrive: all that is left (default), or `amount` of it. Less than what remains partially funds the
 * intent; the rest (an overpayment) would stay in the customer's cash balance, which is not emulated.
 */
export function fundPaymentIntent(ctx: EmulatorContext, id: string, amount?: number): Stripe.PaymentIntent {
  const { intent, instructions } = requirePending(ctx, id);
  const remaining = instructions.amount_remaining ?? intent.amount;
  const received = amount ?? remaining;
  if (!Number.isSafeInteger(received) || received < 1) {
    throw invalidRequest('amount must be a positive integer (in the smallest currency unit).', {
      param: 'amount',
    });
  }
  if (received < remaining) {
    instructions.amount_remaining = remaining - received;
    ctx.events.emit('payment_intent.partially_funded', intent);
    return intent;
  }
  ctx.store.pendingTransfers.delete(id);
  const methodId =
    typeof intent.payment_method === 'string' ? intent.payment_method : intent.payment_method?.id;
  succeedPayment(ctx, intent, requirePaymentMethod(ctx, methodId ?? ''));
  const session = sessionOfIntent(ctx, id);
  if (session && session.payment_status !== 'paid') {
    session.payment_status = 'paid';
    invoiceCheckoutSession(ctx, session, ctx.store.sessionExtras.get(session.id)?.lineItems ?? []);
    ctx.events.emit('checkout.session.async_payment_succeeded', session);
  }
  return intent;
}

/** The transfer never arrives: the payment fails and the Checkout Session reports `async_payment_failed`. */
export function failBankTransfer(ctx: EmulatorContext, id: string): Stripe.PaymentIntent {
  const { intent } = requirePending(ctx, id);
  ctx.store.pendingTransfers.delete(id);
  const methodId =
    typeof intent.payment_method === 'string' ? intent.payment_method : intent.payment_method?.id;
  intent.status = 'requires_payment_method';
  intent.next_action = null;
  intent.payment_method = null;
  intent.last_payment_error = paymentAttemptExpired(requirePaymentMethod(ctx, methodId ?? ''));
  ctx.events.emit('payment_intent.payment_failed', intent);
  const session = sessionOfIntent(ctx, id);
  if (session) ctx.events.emit('checkout.session.async_payment_failed', session);
  return intent;
}

/** Funds every transfer whose time has come on the clock (a moved clock brings them forward). */
export function fundDueTransfers(ctx: EmulatorContext): void {
  const now = nowMs();
  for (const [id, pending] of ctx.store.pendingTransfers) {
    if (pending.fundAt <= now) fundPaymentIntent(ctx, id);
  }
}
