// Stripe emulator: `payment_method_options` as Checkout Sessions and PaymentIntents take them, for the
// three methods the emulator offers; everything else in there is refused rather than silently ignored.
import type Stripe from 'stripe';
import { invalidRequest } from '../errors.ts';
import type { ParamReader } from '../form.ts';

export type MethodOptions = {
  card?: { setupFutureUsage?: 'none' | 'off_session' | 'on_session' };
  paypal?: { setupFutureUsage?: 'none' | 'off_session' };
  customerBalance?: { transferType?: string; setupFutureUsage?: 'none' };
};

const transferTypes = [
  'eu_bank_transfer',
  'gb_bank_transfer',
  'jp_bank_transfer',
  'mx_bank_transfer',
  'us_bank_transfer',
] as const;

export function readMethodOptions(params: ParamReader): MethodOptions {
  const options = params.object('payment_method_options');
  if (!options) return {};
  options.allow<Stripe.Checkout.SessionCreateParams.PaymentMethodOptions>([
    'card',
    'paypal',
    'customer_balance',
  ]);
  const result: MethodOptions = {};
  const card = options.object('card');
  if (card) {
    card.allow<Stripe.Checkout.SessionCreateParams.PaymentMethodOptions.Card>(['setup_future_usage']);
    const usage = card.oneOf('setup_future_usage', ['none', 'off_session', 'on_session']);
    result.card = usage ? { setupFutureUsage: usage } : {};
  }
  const paypal = options.object('paypal');
  if (paypal) {
    paypal.allow<Stripe.Checkout.SessionCreateParams.PaymentMethodOptions.Paypal>(['setup_future_usage']);
    const usage = paypal.oneOf('setup_future_usage', ['none', 'off_session']);
    result.paypal = usage ? { setupFutureUsage: usage } : {};
  }
  const balance = options.object('customer_balance');
  if (balance) {
    balance.allow<Stripe.Checkout.SessionCreateParams.PaymentMethodOptions.CustomerBalance>([
      'funding_type',
      'bank_transfer',
      'setup_future_usage',
    ]);
    // Stripe allows only `none` here: a bank transfer cannot be saved for later.
    const usage = balance.oneOf('setup_future_usage', ['none']);
    const fundingType = balance.oneOf('funding_type', ['bank_transfer']);
    const transfer = balance.object('bank_transfer');
    transfer?.allow<Stripe.Checkout.SessionCreateParams.PaymentMethodOptions.CustomerBalance.BankTransfer>([
      'type',
      'eu_bank_transfer',
      'requested_address_types',
    ]);
    const transferType = transfer?.oneOf('type', transferTypes);
    if (transfer && !fundingType) {
      throw invalidRequest('funding_type is required when bank_transfer is set.', {
        param: balance.name('funding_type'),
        code: 'parameter_missing',
      });
    }
    if (fundingType && !transferType) {
      throw invalidRequest('bank_transfer[type] is required when funding_type is bank_transfer.', {
        param: `${balance.name('bank_transfer')}[type]`,
        code: 'parameter_missing',
      });
    }
    result.customerBalance = {
      ...(transferType ? { transferType } : {}),
      ...(usage ? { setupFutureUsage: usage } : {}),
    };
  }
  return result;
}

/** The bank transfer type a currency gets when none was named. */
export function defaultTransferType(currency: string): string {
  if (currency === 'gbp') return 'gb_bank_transfer';
  if (currency === 'eur') return 'eu_bank_transfer';
  if (currency === 'jpy') return 'jp_bank_transfer';
  if (currency === 'mxn') return 'mx_bank_transfer';
  return 'us_bank_transfer';
}

/** As a PaymentIntent reports them. */
export function intentMethodOptions(
  options: MethodOptions,
  types: readonly string[],
  currency: string,
): Stripe.PaymentIntent.PaymentMethodOptions {
  const result: Stripe.PaymentIntent.PaymentMethodOptions = {};
  if (types.includes('card')) {
    result.card = {
      installments: null,
      mandate_options: null,
      network: null,
      request_three_d_secure: 'automatic',
      ...(options.card?.setupFutureUsage ? { setup_future_usage: options.card.setupFutureUsage } : {}),
    };
  }
  if (types.includes('paypal')) {
    result.paypal = {
      preferred_locale: null,
      reference: null,
      ...(options.paypal?.setupFutureUsage ? { setup_future_usage: options.paypal.setupFutureUsage } : {}),
    };
  }
  if (types.includes('customer_balance')) {
    result.customer_balance = {
      funding_type: 'bank_transfer',
      bank_transfer: { type: options.customerBalance?.transferType ?? defaultTransferType(currency) },
      ...(options.customerBalance?.setupFutureUsage ? { setup_future_usage: 'none' as const } : {}),
    };
  }
  return result;
}

/** As a Checkout Session reports them. */
export function sessionMethodOptions(
  options: MethodOptions,
  types: readonly string[],
  currency: string,
): Stripe.Checkout.Session.PaymentMethodOptions {
  const result: Stripe.Checkout.Session.PaymentMethodOptions = {};
  if (types.includes('card')) {
    result.card = {
      request_three_d_secure: 'automatic',
      ...(options.card?.setupFutureUsage ? { setup_future_usage: options.card.setupFutureUsage } : {}),
    };
  }
  if (types.includes('paypal')) {
    result.paypal = {
      preferred_locale: null,
      reference: null,
      ...(options.paypal?.setupFutureUsage ? { setup_future_usage: options.paypal.setupFutureUsage } : {}),
    };
  }
  if (types.includes('customer_balance')) {
    result.customer_balance = {
      funding_type: 'bank_transfer',
      bank_transfer: { type: options.customerBalance?.transferType ?? defaultTransferType(currency) },
      ...(options.customerBalance?.setupFutureUsage ? { setup_future_usage: 'none' as const } : {}),
    };
  }
  return result;
}
