// Cost to Marketplace units: an hour's exact cost plus the fraction carried from the previous hour, divided
// into whole units; the rest is carried on. Integer micro-USD throughout, so nothing is lost to rounding.
// A cost or carry below zero is a credit (calls reversed after their hour was reported, billed in a later
// hour): an hour whose total is not positive reports 0 units and carries the credit on.

/** Largest Quantity BatchMeterUsage accepts. */
export const MAX_QUANTITY = 2_147_483_647;

export type Conversion = { units: number; carryOut: number };

export function toUnits(costMicros: number, carryInMicros: number, unitPriceMicros: number): Conversion {
  if (!Number.isSafeInteger(costMicros)) throw new RangeError(`bad cost ${costMicros}`);
  if (!Number.isSafeInteger(carryInMicros)) throw new RangeError(`bad carry ${carryInMicros}`);
  if (!Number.isSafeInteger(unitPriceMicros) || unitPriceMicros <= 0)
    throw new RangeError(`bad unit price ${unitPriceMicros}`);
  const total = costMicros + carryInMicros;
  const units = total > 0 ? Math.min(Math.floor(total / unitPriceMicros), MAX_QUANTITY) : 0;
  return { units, carryOut: total - units * unitPriceMicros };
}
