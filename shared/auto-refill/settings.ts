// Auto-refill settings (`GET`/`PUT /v1/billing/auto-refill`) and the view the API answers with.
import * as z from 'zod/mini';
import { WrongBillingModeError } from '../accounts/billing-mode.ts';
import type { Account } from '../accounts/repository.ts';
import { setView } from '../accounts/view.ts';
import { auditItem } from '../audit/trail.ts';
import type { Actor } from '../auth/caller.ts';
import { nowIso } from '../clock.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import { isoTime, usd } from '../http/validation.ts';
import { type Micros, toWire, ZERO } from '../money.ts';
import { paymentMethodSchema, paymentMethodView } from '../payments/payment-methods.ts';
import { saveSettings } from './store.ts';
import { requestRefill } from './trigger.ts';
import type { AutoRefill } from './types.ts';

export type SettingsInput = {
  enabled: boolean;
  threshold: Micros;
  amount: Micros;
  monthly_cap: Micros | null;
};

export const autoRefillSchema = z.object({
  enabled: z.boolean(),
  /** null until auto-refill was first set up. */
  threshold: z.nullable(usd),
  amount: z.nullable(usd),
  monthly_cap: z.nullable(usd),
  status: z.enum(['active', 'suspended', 'off']),
  suspended_reason: z.optional(z.string()),
  payment_method: z.nullable(paymentMethodSchema),
  safeguards: z.optional(
    z.object({
      consecutive_failures: z.number().check(z.int()),
      attempts_last_10_minutes: z.number().check(z.int()),
      refilled_this_month: usd,
    }),
  ),
  last_attempt: z.optional(
    z.object({
      at: isoTime,
      amount: usd,
      outcome: z.enum([
        'succeeded',
        'failed',
        'authentication_required',
        'cap_reached',
        'rate_limited',
        'not_needed',
        'no_payment_method',
      ]),
      reason: z.optional(z.string()),
      top_up_url: z.optional(z.string()),
    }),
  ),
});

export function autoRefillView(account: Account): z.output<typeof autoRefillSchema> {
  const state = account.auto_refill;
  const attempt = state?.last_attempt;
  return {
    enabled: state?.enabled ?? false,
    threshold: state ? toWire(state.threshold) : null,
    amount: state ? toWire(state.amount) : null,
    monthly_cap: state?.monthly_cap == null ? null : toWire(state.monthly_cap),
    status: state?.status ?? 'off',
    ...(state?.suspended_reason && state.status === 'suspended'
      ? { suspended_reason: state.suspended_reason }
      : {}),
    payment_method: paymentMethodView(account.payment_method),
    ...(state
      ? {
          safeguards: {
            consecutive_failures: state.consecutive_failures,
            attempts_last_10_minutes: state.recent_attempts.filter(
              (at) => Date.now() - Date.parse(at) < 600_000,
            ).length,
            refilled_this_month: toWire(state.month === nowIso().slice(0, 7) ? state.month_total : ZERO),
          },
        }
      : {}),
    ...(attempt
      ? {
          last_attempt: {
            at: attempt.at,
            amount: toWire(attempt.amount),
            outcome: attempt.outcome,
            ...(attempt.reason ? { reason: attempt.reason } : {}),
            ...(attempt.top_up_url ? { top_up_url: attempt.top_up_url } : {}),
          },
        }
      : {}),
  };
}

/**
 * Saves the settings. Enabling needs a saved payment method; enabling (or re-enabling after a suspension)
 * starts afresh. The same write lists the account for the sweep with its headroom (store.ts); enabling while
 * already below the threshold also starts a refill now.
 */
export async function updateSettings(
  accountId: string,
  input: SettingsInput,
  actor?: Actor,
): Promise<z.output<typeof autoRefillSchema>> {
  const audit =
    actor &&
    ((before: AutoRefill | undefined, after: AutoRefill) =>
      auditItem(accountId, actor, 'auto_refill.changed', {
        details: { before: before ? settingsOf(before) : null, after: settingsOf(after) },
      }));
  const saved = await saveSettings(accountId, (account) => settingsFor(account, input), audit);
  if (!saved) throw new NotFoundError('Account not found');
  // This instance now knows the threshold, so its next debit below it asks for a refill at once.
  setView(accountId, saved.available, saved);
  if (input.enabled && saved.available < input.threshold) await requestRefill(accountId);
  return autoRefillView(saved);
}

/** The fields a person sets (wire form): what the audit trail shows before and after a change. */
function settingsOf(settings: AutoRefill) {
  return {
    enabled: settings.enabled,
    threshold: toWire(settings.threshold),
    amount: toWire(settings.amount),
    monthly_cap: settings.monthly_cap === null ? null : toWire(settings.monthly_cap),
  };
}

function settingsFor(account: Account, input: SettingsInput): AutoRefill {
  // Refills buy credits, which only a prepaid account ever spends; switching auto-refill off is always allowed.
  if (input.enabled && account.billing_mode !== 'prepaid') {
    throw new WrongBillingModeError(
      `Auto-refill is for prepaid accounts only; this account is billed in "${account.billing_mode}" mode`,
    );
  }
  if (input.enabled && !account.payment_method) {
    throw new ConflictError(
      'no_payment_method',
      'Save a payment method with a purchase before enabling auto-refill',
    );
  }
  const current = account.auto_refill;
  return {
    enabled: input.enabled,
    threshold: input.threshold,
    amount: input.amount,
    monthly_cap: input.monthly_cap,
    status: input.enabled ? 'active' : 'off',
    consecutive_failures:
      input.enabled && current?.status !== 'active' ? 0 : (current?.consecutive_failures ?? 0),
    recent_attempts: current?.recent_attempts ?? [],
    month: current?.month ?? nowIso().slice(0, 7),
    month_total: current?.month_total ?? ZERO,
    ...(current?.last_attempt ? { last_attempt: current.last_attempt } : {}),
    ...(current?.refill_id ? { refill_id: current.refill_id } : {}),
    ...(current?.lease_until ? { lease_until: current.lease_until } : {}),
  };
}
