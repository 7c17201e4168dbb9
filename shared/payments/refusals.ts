// What the payment flows refuse to act on, decided and reported in one place: money in a currency other
// than USD, objects Stripe does not know (404 on a re-read) and objects this deployment never created. Each
// is logged (never at ERROR: nothing failed), counted in a metric the operator can alarm on, and
// acknowledged, so Stripe stops redelivering it.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import Stripe from 'stripe';
import { logger, metrics } from '../observability/powertools.ts';

/** Every price, credit and debit is in USD: the ledger has one currency. */
export const PAYMENT_CURRENCY = 'usd';

export const refusalMetrics = {
  /** A PaymentIntent, charge, refund, dispute or invoice not in USD: never credited or debited. */
  currency: 'StripeCurrencyRefused',
  /** A refund or dispute that would take back more than its payment credited: capped. */
  takeBackCapped: 'StripeTakeBackCapped',
  /** A webhook or a re-read naming an object Stripe or this deployment does not know: ignored. */
  unknownObject: 'StripeUnknownObject',
  /** `GET /billing/return` naming a session no stored purchase has: a 404 page, no Stripe call. */
  unknownReturn: 'CheckoutReturnUnknown',
} as const;

type Refusal = keyof typeof refusalMetrics;

function count(refusal: Refusal): void {
  metrics.addMetric(refusalMetrics[refusal], MetricUnit.Count, 1);
}

/**
 * True when `object` is not in USD, which the caller must then leave alone; logged and counted. A payment
 * in another currency needs the operator: refund it on Stripe, or grant its value by hand.
 */
export function refusedCurrency(
  kind: string,
  object: { id: string; currency: string | null },
  accountId?: string,
): boolean {
  if (object.currency?.toLowerCase() === PAYMENT_CURRENCY) return false;
  logger.warn('stripe money in another currency refused; nothing credited or debited', {
    kind,
    id: object.id,
    currency: object.currency,
    ...(accountId ? { accountId } : {}),
  });
  count('currency');
  return true;
}

/** A refund or dispute capped at what its payment still has to give back; logged and counted. */
export function reportCapped(details: Record<string, unknown>): void {
  logger.warn('stripe take-back capped at what the payment credited', details);
  count('takeBackCapped');
}

/** An object this deployment never created (or Stripe no longer knows): ignored, logged, counted. */
export function ignoreUnknown(kind: string, id: string, why: string): 'not_ours' {
  logger.info('stripe object not ours; ignored', { kind, id, why });
  count('unknownObject');
  return 'not_ours';
}

/** A return from checkout naming a session this deployment never opened. */
export function reportUnknownReturn(sessionId: string): void {
  logger.info('checkout return for an unknown session', { session_id: sessionId });
  count('unknownReturn');
}

/** Re-reads an object from Stripe; undefined (logged, counted) when Stripe answers 404 for it. */
export async function reread<T>(kind: string, id: string, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof Stripe.errors.StripeInvalidRequestError && error.statusCode === 404) {
      ignoreUnknown(kind, id, 'Stripe does not know it');
      return undefined;
    }
    throw error;
  }
}
