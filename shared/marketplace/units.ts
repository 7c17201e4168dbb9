// Cost to Marketplace units: an hour's exact cost plus the fraction carried from the previous hour, divided
// into whole units; the rest is carried on. Integer micro-USD throughout, so nothing is lost to rounding.

/** Largest Quantity BatchMeterUsage accepts. */
export const MAX_QUANTITY = 2_147_483_647;

export type Conversion = { units: number; carryOut: number };

export function toUnits(costMicros: number, carryInMicros: number, unitPriceMicros: number): Conversion {
  if (!Number.isSafeInteger(costMicros) || costMicros < 0) throw new RangeError(`bad cost ${costMicros}`);
  if (!Number.isSafeInteger(carryInMicros) || carryInMicros < 0)
    throw new RangeError(`bad carry ${carryInMicros}`);
  if (!Number.isSafeInteger(unitPriceMicros) || unitPriceMicros <= 0)
    throw new RangeError(`bad unit price ${unitPriceMicros}`);
  const total = costMicros + carryInMicros;
  const units = Math.min(Math.floor(total / unitPriceMicros), MAX_QUANTITY);
  return { units, carryOut: total - units * unitPriceMicros };
}
