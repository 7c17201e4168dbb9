// How much one purchase (or one automatic refill) may be: configurable limits, whole cents.
import * as z from 'zod/mini';
import { optionalNumber } from '../config.ts';
import { usdAmount } from '../http/validation.ts';
import { fromDecimalString, type Micros, toWire } from '../money.ts';

/** Purchase limits in USD, configurable (CHECKOUT_MIN_USD, CHECKOUT_MAX_USD); the contract's defaults. */
export function purchaseLimits(): { min: Micros; max: Micros } {
  return {
    min: fromDecimalString(String(optionalNumber('CHECKOUT_MIN_USD', 5))),
    max: fromDecimalString(String(optionalNumber('CHECKOUT_MAX_USD', 10_000))),
  };
}

/** A purchase amount on the wire: within the limits, at most 2 decimals (a card charge is in cents). */
export const purchaseAmount = usdAmount.check(
  z.superRefine((amount, ctx) => {
    const { min, max } = purchaseLimits();
    if (amount % 10_000 !== 0)
      ctx.addIssue({ code: 'custom', message: 'must have at most 2 decimal places' });
    if (amount < min || amount > max) {
      ctx.addIssue({ code: 'custom', message: `must be between ${toWire(min)} and ${toWire(max)}` });
    }
  }),
);
