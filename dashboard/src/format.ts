// Dashboard: how amounts, dates and states read on screen, and the checks on amounts people type. The page
// does no money arithmetic of its own: amounts are shown as the API sent them (chart heights are pixels).

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

/** UTC `YYYY-MM-DD` a number of days before today. */
export function daysAgo(days: number, from = new Date()): string {
  return new Date(from.getTime() - days * 86_400_000).toISOString().slice(0, 10);
}
