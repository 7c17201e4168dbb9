// Auto-refill's state, kept on the account item (`auto_refill`), so the charging write can mark an account
// due and the refill routine can claim it with conditional writes on one item.
import type { Micros } from '../money.ts';

export type RefillStatus = 'active' | 'suspended' | 'off';

export type RefillOutcome =
  | 'succeeded'
  | 'failed'
  | 'authentication_required'
  | 'cap_reached'
  | 'rate_limited'
  | 'not_needed'
  | 'no_payment_method';

export type RefillAttempt = {
  refill_id: string;
  at: string;
  amount: Micros;
  outcome: RefillOutcome;
  reason?: string;
  payment_intent?: string;
  /** After `authentication_required`: a Checkout page where the customer tops up and authenticates. */
  top_up_url?: string;
};

export type AutoRefill = {
  enabled: boolean;
  threshold: Micros;
  amount: Micros;
  monthly_cap: Micros | null;
  status: RefillStatus;
  suspended_reason?: string;
  consecutive_failures: number;
  /** Times of recent charge attempts (the last 10 minutes are what the rate limit counts). */
  recent_attempts: string[];
  /** The UTC month `month_total` counts. */
  month: string;
  month_total: Micros;
  last_attempt?: RefillAttempt;
  /** The refill in flight: its id keys the Stripe PaymentIntent, so a resumed run charges nothing twice. */
  refill_id?: string;
  lease_until?: number;
};

export const ATTEMPT_WINDOW_MS = 10 * 60_000;
export const MAX_ATTEMPTS_PER_WINDOW = 2;
export const MAX_CONSECUTIVE_FAILURES = 3;
export const LEASE_MS = 60_000;
