// Dashboard: how amounts, dates and states read on screen, and the checks on amounts people type. The page
// does no money arithmetic of its own: amounts are shown as the API sent them (chart heights are pixels).
import type { paths } from '../../client/openapi.ts';

const usd2 = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const usdExact = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 6,
});

/**
 * `$25.00`, and every digit the API sent beyond the cents (`$0.002`, `$34.9894`): per-call prices are that
 * small, and a balance rounded to the cent would not match the ledger.
 */
export function money(amount: number): string {
  return usdExact.format(amount);
}

/** How many decimals a number's shortest form has (`0.00002` → 5, `1.5e-7` → 8, `25` → 0). */
function decimalsOf(amount: number): number {
  const [mantissa = '', exponent = '0'] = Math.abs(amount).toString().split('e');
  const fraction = mantissa.split('.')[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent));
}

/**
 * A catalog price with every digit it has: unit prices may be finer than the micro-dollar (`$0.0000001`),
 * which `money` would round away. At least the cents, as money reads.
 */
export function price(amount: number): string {
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: 'USD',
    minimumFractionDigits: 2,
    maximumFractionDigits: Math.min(100, Math.max(2, decimalsOf(amount))),
  }).format(amount);
}

const count = new Intl.NumberFormat('en-US');

/** One feature of GET /v1/prices (typed here, not in api.ts, so this module stays free of the browser). */
export type Price =
  paths['/v1/prices']['get']['responses'][200]['content']['application/json']['data'][number];

/** How one feature of the price list reads: how it is priced, its price and the most one call can cost. */
export type PriceLine = { pricing: string; price: string; limit: string };

export function priceLine(entry: Price): PriceLine {
  switch (entry.pricing) {
    case 'fixed':
      return { pricing: 'Per call', price: `${price(entry.price)} per call`, limit: '—' };
    case 'per_unit':
      return {
        pricing: 'Per unit',
        price: `${price(entry.unit_price)} per ${entry.unit}`,
        limit:
          entry.max_quantity === undefined
            ? 'No limit'
            : `Up to ${count.format(entry.max_quantity)} ${entry.unit}${entry.max_quantity === 1 ? '' : 's'}`,
      };
    case 'dynamic':
      return { pricing: 'Dynamic', price: 'Priced per call', limit: `Up to ${price(entry.max_amount)}` };
  }
}

const dateTime = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' });

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : dateTime.format(at);
}

/** A UTC calendar day (`2026-11-30`) as `Nov 30, 2026`. */
export function day(isoDay: string): string {
  const at = new Date(`${isoDay.slice(0, 10)}T00:00:00Z`);
  return Number.isNaN(at.getTime()) ? isoDay : dateOnly.format(at);
}

export function shortDay(isoDay: string): string {
  return isoDay.slice(5, 10);
}

export type AmountCheck = { ok: true; value: number } | { ok: false; problem: string };

/**
 * Reads a dollar amount as typed: digits with at most two decimals, within [min, max]. The API checks again;
 * this only spares the round trip and says what is wrong next to the field.
 */
export function readAmount(text: string, min: number, max: number): AmountCheck {
  const trimmed = text.trim().replace(/^\$/, '');
  if (trimmed === '') return { ok: false, problem: 'Enter an amount.' };
  if (!/^\d+(\.\d{1,2})?$/.test(trimmed)) {
    return { ok: false, problem: 'Enter dollars with at most two decimals, like 25 or 12.50.' };
  }
  const value = Number(trimmed);
  if (value < min || value > max) {
    return { ok: false, problem: `Enter an amount from ${usd2.format(min)} to ${usd2.format(max)}.` };
  }
  return { ok: true, value };
}

export function paymentMethod(method: { type: string; brand?: string; last4?: string } | null): string {
  if (!method) return 'none saved';
  if (method.type === 'card') {
    const brand = method.brand ? method.brand[0]!.toUpperCase() + method.brand.slice(1) : 'Card';
    return method.last4 ? `${brand} ending in ${method.last4}` : brand;
  }
  if (method.type === 'paypal') return 'PayPal';
  if (method.type === 'customer_balance' || method.type === 'bank_transfer') return 'Bank transfer';
  return method.type;
}

export const purchaseStates: Record<string, string> = {
  pending: 'Waiting for payment',
  paid: 'Paid',
  failed: 'Failed',
  expired: 'Expired',
};

/**
 * An AWS Marketplace contract's subscription state in words, or null while it is active (the usual case says
 * nothing). An ended subscription grants no more credits.
 */
export function subscriptionNotice(status: string | undefined): string | null {
  if (!status || status === 'active') return null;
  if (status === 'cancel_pending')
    return 'Your AWS Marketplace subscription is being cancelled: renew it through AWS Marketplace to keep receiving credits from it.';
  const state = status === 'failed' ? 'has failed' : `is ${status.replaceAll('_', ' ')}`;
  return `Your AWS Marketplace subscription ${state}: no more credits are granted from it until you subscribe again through AWS Marketplace.`;
}

/** UTC `YYYY-MM-DD` a number of days before today. */
export function daysAgo(days: number, from = new Date()): string {
  return new Date(from.getTime() - days * 86_400_000).toISOString().slice(0, 10);
}

export type LimitReset = 'daily' | 'weekly' | 'monthly' | 'never';

/** How a token's period reads after its spend: "$0.42 of $5.00 today". */
export const periodWords: Record<LimitReset, string> = {
  daily: 'today',
  weekly: 'this week',
  monthly: 'this month',
  never: 'in total',
};

/**
 * A token's spend limit as typed: USD above 0 with at most six decimals (the API's own rules; it checks
 * again, and its larger bounds are shown from its answer). Empty is no limit.
 */
export function readLimitAmount(
  text: string,
): { ok: true; value: number | null } | { ok: false; problem: string } {
  const trimmed = text.trim().replace(/^\$/, '');
  if (trimmed === '') return { ok: true, value: null };
  if (!/^\d+(\.\d{1,6})?$/.test(trimmed)) {
    return { ok: false, problem: 'Enter dollars with at most six decimals, like 5 or 0.25.' };
  }
  const value = Number(trimmed);
  if (!(value > 0))
    return { ok: false, problem: 'Enter an amount above $0, or leave it empty for no limit.' };
  return { ok: true, value };
}

/** The longest a token may be made to last: five years of 365.25 days, as the API counts them. */
export const MAX_TOKEN_LIFETIME_MS = 5 * 365.25 * 86_400_000;

/**
 * An expiry typed in a date-time field (the browser's local time, `2027-01-03T10:00`) as the ISO UTC instant
 * the API takes: in the future and at most five years ahead. Empty is no expiry.
 */
export function readExpiry(
  text: string,
  now = Date.now(),
): { ok: true; value: string | null } | { ok: false; problem: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: true, value: null };
  const at = new Date(trimmed).getTime();
  if (Number.isNaN(at)) return { ok: false, problem: 'Enter a date and a time.' };
  if (at <= now) return { ok: false, problem: 'Choose a time in the future.' };
  if (at > now + MAX_TOKEN_LIFETIME_MS) return { ok: false, problem: 'Choose a time at most 5 years ahead.' };
  return { ok: true, value: new Date(at).toISOString() };
}

/** An instant as a date-time field's value in the browser's local time (`2027-01-03T10:00`). */
export function localInputValue(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

const expiryDay = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric' });

/** A token's expiry as a list reads it: `expires 3 Jan 2027`, `expired`, or `never expires`. */
export function expiry(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never expires';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return `expires ${iso}`;
  return at.getTime() <= now ? 'expired' : `expires ${expiryDay.format(at)}`;
}
