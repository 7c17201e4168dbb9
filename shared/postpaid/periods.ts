// Billing periods: UTC calendar months named `YYYY-MM`. A period is closed for invoicing a little after it
// ends, so a charge that arrived at 23:59:59.999 and commits a moment later still lands in it.

/** How long after a period ends the invoicing job waits before it treats the period as closed. */
export const CLOSE_MARGIN_MS = 10 * 60_000;

export function periodOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

export function periodStartMs(period: string): number {
  const [year, month] = period.split('-').map(Number);
  return Date.UTC(year!, month! - 1, 1);
}

/** The first instant after the period (the next period's start). */
export function periodEndMs(period: string): number {
  const [year, month] = period.split('-').map(Number);
  return Date.UTC(year!, month!, 1);
}

export function isPeriod(text: string): boolean {
  return /^\d{4}-(0[1-9]|1[0-2])$/.test(text);
}

export function isClosed(period: string, nowMs: number): boolean {
  return nowMs >= periodEndMs(period) + CLOSE_MARGIN_MS;
}

/** The closed periods of the last `months` months, oldest first (older work first: it is the most late). */
export function closedPeriods(nowMs: number, months: number): string[] {
  const periods: string[] = [];
  let period = periodOf(nowMs - CLOSE_MARGIN_MS);
  for (let i = 0; i < months; i++) {
    const start = periodStartMs(period);
    period = periodOf(start - 1);
    periods.unshift(period);
  }
  return periods;
}
