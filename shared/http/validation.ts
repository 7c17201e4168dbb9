// Input validation helpers: zod problems to the contract's `details`, and the money field every schema uses.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import type { FieldProblem } from '../errors.ts';
import { fromWire, type Micros } from '../money.ts';

// zod/mini loads no error messages of its own; the contract's `details[].problem` texts are zod's English ones.
z.config(en());

export function zodProblems(error: z.core.$ZodError): FieldProblem[] {
  return error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.join('.') : 'body',
    problem: issue.message,
  }));
}

const USD_DESCRIPTION = 'USD, a JSON number with at most 6 decimal places';

/** A USD amount on the wire: a finite JSON number with at most six decimals, converted to exact micros. */
export const usdAmount = z.pipe(
  // Any input reaches `fromWire`, whose messages name the problem; the document still says "number".
  z.unknown().check(z.meta({ type: 'number', description: USD_DESCRIPTION })),
  z.transform((value, ctx): Micros => {
    try {
      return fromWire(value);
    } catch (error) {
      ctx.issues.push({
        code: 'custom',
        message: error instanceof Error ? error.message : 'is not a valid amount',
        input: value,
      });
      return z.NEVER;
    }
  }),
);

/** A USD amount in a response (`toWire` output). */
export const usd = z.number().check(z.describe(USD_DESCRIPTION));

/** An ISO 8601 UTC time in a response. */
export const isoTime = z.string().check(z.describe('ISO 8601 UTC time'));

/** Names of things we key attributes by: letters, digits, `_` and `-`. */
export const identifier = z
  .string()
  .check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'));
