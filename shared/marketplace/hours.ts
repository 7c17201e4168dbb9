// UTC hours and the Metering Service's time window: which hour a time falls in, and until when an hour's
// record (stamped at the hour's start) is still accepted.
import { config } from '../config.ts';

export const HOUR_MS = 3_600_000;
/** Last month's usage is accepted until 06:00 UTC on the 1st. */
export const MONTH_END_GRACE_MS = 6 * HOUR_MS;
/** Stop sending an hour this long before its window closes: a call in flight must not land outside it. */
export const WINDOW_SAFETY_MS = 10 * 60_000;

/** How long after its timestamp a record is accepted (MARKETPLACE_WINDOW_HOURS, default 6 hours). */
export function windowMs(): number {
  return config.marketplaceWindowHours * HOUR_MS;
}

/** The hour's start as the hour records key it: ISO without milliseconds, e.g. 2026-12-01T13:00:00Z. */
export function hourKey(ms: number): string {
  return `${new Date(Math.floor(ms / HOUR_MS) * HOUR_MS).toISOString().slice(0, 13)}:00:00Z`;
}

export function hourMs(hour: string): number {
  return Date.parse(hour);
}

/** When AWS stops accepting a record stamped at `hour`: a window later, or 06:00 UTC on the next month's 1st. */
export function windowClosesAt(hour: string): number {
  const start = hourMs(hour);
  const date = new Date(start);
  const nextMonthCutoff = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) + MONTH_END_GRACE_MS;
  return Math.min(start + windowMs(), nextMonthCutoff);
}

/** Whether the hour can still be sent at `nowMs`, keeping the safety margin. */
export function sendable(hour: string, nowMs: number): boolean {
  return nowMs < windowClosesAt(hour) - WINDOW_SAFETY_MS;
}

/** The hours from `from` to `to`, both included. */
export function hoursBetween(from: string, to: string): string[] {
  const hours: string[] = [];
  for (let at = hourMs(from); at <= hourMs(to); at += HOUR_MS) hours.push(hourKey(at));
  return hours;
}
