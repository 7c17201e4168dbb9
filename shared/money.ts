// Money: the one module that parses, formats, adds and rounds USD amounts.
//
// Inside the system every amount is an integer number of micro-USD (1 USD = 1,000,000 micros), held in a
// branded `Micros` number that is always a safe integer. On the wire an amount is a JSON number with at most
// six decimals. Prices in the catalog may be finer (up to nine decimals, nano-USD per unit).
//
// The rounding rule, written once: a computed cost (quantity x unit price) is rounded half-up to the
// micro-dollar, once, when the charge is computed. Nothing else rounds money. Amounts received on the wire
// are never rounded: more than six decimals is an error.

declare const microsBrand: unique symbol;
export type Micros = number & { readonly [microsBrand]: true };

export const MICROS_PER_USD = 1_000_000;
/** Largest amount the system accepts on the wire or stores: one billion USD keeps every sum a safe integer. */
export const MAX_USD = 1_000_000_000;
const MAX_MICROS = MAX_USD * MICROS_PER_USD;

export const ZERO = 0 as Micros;

export class InvalidMoneyError extends Error {
  override readonly name = 'InvalidMoneyError';
}

function checked(value: number): Micros {
  if (!Number.isSafeInteger(value)) throw new InvalidMoneyError(`amount out of range: ${value}`);
  return value as Micros;
}

/** Parses a decimal string ("0.002", "25", "-1.5") with at most `maxDecimals` decimals into integer units. */
function parseDecimal(text: string, maxDecimals: number): bigint {
  const match = /^(-)?(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) throw new InvalidMoneyError(`not a decimal number: ${text}`);
  const [, sign, whole, fraction = ''] = match;
  if (fraction.length > maxDecimals) {
    throw new InvalidMoneyError(`more than ${maxDecimals} decimal places: ${text}`);
  }
  const units =
    BigInt(whole!) * 10n ** BigInt(maxDecimals) + BigInt(fraction.padEnd(maxDecimals, '0') || '0');
  return sign ? -units : units;
}

/** Expands a JS number to plain decimal notation ("1e-7" → "0.0000001") without any rounding. */
function plainDecimal(value: number): string {
  const text = String(value);
  const exp = /^(-)?(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!exp) return text;
  const [, sign = '', lead, rest = '', power] = exp;
  const digits = lead! + rest;
  const point = 1 + Number(power);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * Reads a wire amount. JSON numbers arrive as doubles; their shortest round-trip text is exactly what the
 * caller wrote for any amount with at most 15 significant digits, so parsing that text is exact.
 */
export function fromWire(value: unknown): Micros {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new InvalidMoneyError('not a finite number');
  if (Math.abs(value) > MAX_USD) throw new InvalidMoneyError(`larger than ${MAX_USD} USD`);
  return checked(Number(parseDecimal(plainDecimal(value), 6)));
}

/** Reads a decimal string amount, e.g. from configuration. */
export function fromDecimalString(text: string): Micros {
  const micros = parseDecimal(text.trim(), 6);
  if (micros > BigInt(MAX_MICROS) || micros < -BigInt(MAX_MICROS)) {
    throw new InvalidMoneyError(`larger than ${MAX_USD} USD`);
  }
  return checked(Number(micros));
}

/** The wire form: a JSON number with at most six decimals (integer micros / 1e6 prints exactly). */
export function toWire(amount: Micros): number {
  return amount / MICROS_PER_USD;
}

/** Exact decimal text with a fixed number of places, for CSV exports and logs: 1500 → "0.001500". */
export function toDecimalString(amount: Micros): string {
  const sign = amount < 0 ? '-' : '';
  const abs = Math.abs(amount);
  const whole = Math.floor(abs / MICROS_PER_USD);
  const fraction = String(abs % MICROS_PER_USD).padStart(6, '0');
  return `${sign}${whole}.${fraction}`;
}

export function micros(value: number): Micros {
  return checked(value);
}

export function add(a: Micros, b: Micros): Micros {
  return checked(a + b);
}

export function subtract(a: Micros, b: Micros): Micros {
  return checked(a - b);
}

export function negate(a: Micros): Micros {
  return checked(-a);
}

export function sum(amounts: Iterable<Micros>): Micros {
  let total = 0;
  for (const amount of amounts) total += amount;
  return checked(total);
}

export function min(a: Micros, b: Micros): Micros {
  return (a < b ? a : b) as Micros;
}

export function max(a: Micros, b: Micros): Micros {
  return (a > b ? a : b) as Micros;
}

const MICROS_PER_CENT = 10_000;

/** Stripe amounts are integer cents. */
export function fromCents(cents: number): Micros {
  if (!Number.isSafeInteger(cents)) throw new InvalidMoneyError(`not a whole number of cents: ${cents}`);
  return checked(cents * MICROS_PER_CENT);
}

/** Exact cents for an amount that has no sub-cent part (checkout amounts are validated to 2 decimals). */
export function toCents(amount: Micros): number {
  if (amount % MICROS_PER_CENT !== 0)
    throw new InvalidMoneyError(`not a whole number of cents: ${amount} micros`);
  return amount / MICROS_PER_CENT;
}

/** A unit price in nano-USD (nine decimals), so catalogs can price below a micro-dollar per unit. */
declare const nanosBrand: unique symbol;
export type UnitPrice = bigint & { readonly [nanosBrand]: true };

export function unitPriceFromDecimalString(text: string): UnitPrice {
  const nanos = parseDecimal(text.trim(), 9);
  if (nanos < 0n) throw new InvalidMoneyError(`negative price: ${text}`);
  return nanos as UnitPrice;
}

declare const rawJsonBrand: unique symbol;
/** A number's exact JSON text, which `JSON.stringify` writes as it is (`JSON.rawJSON`). */
export type RawJsonNumber = { readonly [rawJsonBrand]: true };

declare global {
  interface JSON {
    // ES2025, in Node since 21; TypeScript's ES2024 library does not declare it.
    rawJSON(text: string): RawJsonNumber;
  }
}

/**
 * A unit price on the wire (the price list's `unit_price`). Unit prices may have up to nine decimals, finer
 * than the six of money amounts, so the price is written as its exact decimal text ("0.000000015"), never
 * through a double: `String(1.5e-8)` prints exponent form, and a double holds only 15-17 significant digits.
 * It is still a JSON number; a client's parser reads it as the number nearest that decimal, like any other.
 */
export function unitPriceToWire(price: UnitPrice): RawJsonNumber {
  const whole = price / 1_000_000_000n;
  const fraction = String(price % 1_000_000_000n)
    .padStart(9, '0')
    .replace(/0+$/, '');
  return JSON.rawJSON(fraction ? `${whole}.${fraction}` : String(whole));
}

/** quantity x unit price, rounded half-up to the micro-dollar: the only rounding in the system. */
export function costOf(quantity: number, unitPrice: UnitPrice): Micros {
  if (!Number.isSafeInteger(quantity) || quantity < 0)
    throw new InvalidMoneyError(`bad quantity: ${quantity}`);
  const nanos = BigInt(quantity) * unitPrice;
  const rounded = (nanos + 500n) / 1000n;
  if (rounded > BigInt(MAX_MICROS)) throw new InvalidMoneyError('cost out of range');
  return checked(Number(rounded));
}

/**
 * Invoice rounding, the one rule for money that leaves the system in cents: an exact amount is rounded down
 * to whole cents once, at invoice time, and the sub-cent remainder (0..9,999 micros) carries into the next
 * invoice, so a year of invoices adds up to the exact usage. An amount below zero (a credit: calls reversed
 * after their period was invoiced, more than the period's own usage) invoices nothing and carries whole.
 */
export function splitCents(amount: Micros): { cents: number; remainder: Micros } {
  if (amount < 0) return { cents: 0, remainder: amount };
  const cents = Math.floor(amount / MICROS_PER_CENT);
  return { cents, remainder: checked(amount - cents * MICROS_PER_CENT) };
}

/** Hands `left` cents (0 ≤ left ≤ parts + 1) one each to the parts with the largest remainders, in turn. */
function giveByRemainder(cents: number[], remainders: readonly bigint[], left: number): number[] {
  const order = remainders
    .map((remainder, index) => ({ index, remainder }))
    .sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (let i = 0; left > 0; i = (i + 1) % order.length, left--) cents[order[i]!.index]! += 1;
  return cents;
}

const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));

/**
 * Splits `totalCents` over exact parts (largest remainder): each part gets its cents rounded down, and the
 * cents left over go one each to the parts with the largest sub-cent remainders (ties: the earlier part).
 * The result always sums to exactly `totalCents`, which lies between the parts' floored and ceiled sums plus
 * one cent of carry; a line of a negative part (a late reversal's credit) is negative too. A credit carried
 * in can take `totalCents` below the floored sum: the parts then share it in proportion (largest remainder
 * of part × total / sum of parts).
 */
export function allocateCents(totalCents: number, parts: readonly Micros[]): number[] {
  // Nothing to share (also when credits outweigh the usage: no invoice).
  if (totalCents === 0) return parts.map(() => 0);
  const cent = BigInt(MICROS_PER_CENT);
  const exact = parts.map((part) => BigInt(part));
  let floors = exact.map((part) => floorDiv(part, cent));
  let remainders = exact.map((part, i) => part - floors[i]! * cent);
  let left = totalCents - Number(floors.reduce((a, b) => a + b, 0n));
  if (left < 0) {
    const sum = exact.reduce((a, b) => a + b, 0n);
    const shares = exact.map((part) => part * BigInt(totalCents));
    floors = shares.map((share) => floorDiv(share, sum));
    remainders = shares.map((share, i) => share - floors[i]! * sum);
    left = totalCents - Number(floors.reduce((a, b) => a + b, 0n));
  }
  if (left < 0 || left > parts.length + 1 || parts.length === 0) {
    throw new InvalidMoneyError(`cannot allocate ${totalCents} cents over ${parts.length} parts`);
  }
  return giveByRemainder(
    floors.map((floor) => Number(floor)),
    remainders,
    left,
  );
}
