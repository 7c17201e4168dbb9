// Billing modes and the spend limit: the operator moves an account between prepaid and postpaid, and a
// postpaid customer sets or removes a monthly spend limit. Both are conditional writes on the account item
// that race safely with charges (a charge names the mode it assumed in its own condition).
//
// Prepaid → postpaid: the remaining prepaid balance stays on the account untouched (postpaid usage never
// draws on it); it is usable again after a switch back, and an operator can refund or correct it. Open
// holds made in the old mode are released when their calls finish, and the calls are charged in the new mode.
// Postpaid → prepaid: the open period keeps the usage accrued so far and is invoiced with the month as
// usual (its period item stays in the invoicing index); later calls draw on the balance again. Switching
// back to postpaid within the same month continues that period, so its usage still counts toward the limit.

import * as z from 'zod/mini';
import { auditItem } from '../audit/trail.ts';
import type { Actor } from '../auth/caller.ts';
import { relist } from '../auto-refill/store.ts';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { reasonAt, type TransactItem, transactWrite } from '../dynamo/transact.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import { usd } from '../http/validation.ts';
import { periodOf } from '../ledger/accrual.ts';
import { type Micros, toWire } from '../money.ts';
import { type Account, getAccount, stripKeys } from './repository.ts';

export const DEFAULT_PAYMENT_TERMS_DAYS = 30;

export class WrongBillingModeError extends ConflictError {
  constructor(message: string) {
    super('wrong_billing_mode', message);
  }
}

/**
 * The account update, with the audit entry of the person or operator who asked (when there is one) in the
 * same transaction: refused (its condition) → the account as it is, and no entry.
 */
async function conditionalUpdate(
  accountId: string,
  input: Omit<NonNullable<TransactItem['Update']>, 'TableName' | 'Key'>,
  audit?: TransactItem,
): Promise<{ account: Account } | { refused: Account | undefined }> {
  const outcome = await transactWrite([
    {
      Update: {
        TableName: config.tableName,
        Key: keys.account(accountId),
        ...input,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    ...(audit ? [audit] : []),
  ]);
  if (outcome.committed) {
    const account = await getAccount(accountId);
    return account ? { account } : { refused: undefined };
  }
  const refused = reasonAt(outcome, 0);
  if (refused?.code !== 'ConditionalCheckFailed') {
    throw new Error(`account update cancelled: ${outcome.reasons.map((r) => r.code).join(', ')}`);
  }
  return { refused: refused.item ? (stripKeys(refused.item) as Account) : undefined };
}

/** `PUT /admin/accounts/{id}/billing`: prepaid ⇄ postpaid. Marketplace accounts are billed through AWS. */
export async function setBillingMode(
  accountId: string,
  mode: 'prepaid' | 'postpaid',
  paymentTermsDays?: number,
  actor?: Actor,
): Promise<Account> {
  const postpaid = mode === 'postpaid';
  const terms = postpaid ? { payment_terms_days: paymentTermsDays ?? DEFAULT_PAYMENT_TERMS_DAYS } : {};
  const audit = actor && auditItem(accountId, actor, 'billing_mode.changed', { details: { mode, ...terms } });
  const result = await conditionalUpdate(
    accountId,
    {
      // Auto-refill is for prepaid accounts: a postpaid account leaves the sweep's list; back in prepaid, its
      // settings decide (relist, below), with the headroom computed afresh.
      UpdateExpression: postpaid
        ? 'SET billing_mode = :mode, payment_terms_days = :terms, updated_at = :at REMOVE GSI2PK'
        : 'SET billing_mode = :mode, updated_at = :at',
      // Balance shards are prepaid only: a sharded account is brought back to one shard first.
      ConditionExpression: postpaid
        ? 'billing_mode IN (:prepaid, :postpaid) AND (attribute_not_exists(balance_shards) OR balance_shards = :one)'
        : 'billing_mode IN (:prepaid, :postpaid)',
      ExpressionAttributeValues: {
        ':mode': mode,
        ':prepaid': 'prepaid',
        ':postpaid': 'postpaid',
        ':at': nowIso(),
        ...(postpaid ? { ':terms': paymentTermsDays ?? DEFAULT_PAYMENT_TERMS_DAYS, ':one': 1 } : {}),
      },
    },
    audit,
  );
  if ('account' in result) {
    if (!postpaid && result.account.auto_refill?.status === 'active') await relist(accountId);
    return result.account;
  }
  if (!result.refused) throw new NotFoundError('Account not found');
  if ((result.refused.balance_shards ?? 1) > 1 && result.refused.billing_mode === 'prepaid')
    throw new WrongBillingModeError(
      `This account's balance is split across ${result.refused.balance_shards} shards: set balance-shards to 1 before moving it to postpaid`,
    );
  throw new WrongBillingModeError(
    `This account is billed in "${result.refused.billing_mode}" mode, which the operator cannot change`,
  );
}

/**
 * `PUT /v1/billing/spend-limit`: sets (or with `null` removes) a postpaid account's monthly limit. The
 * headroom is recomputed from the period's usage and open holds (`period_committed`) in the same write, so a limit below the usage blocks the
 * very next call; a stale period's headroom is recomputed by the first charge of the new period.
 */
export async function setSpendLimit(
  accountId: string,
  limit: Micros | null,
  actor?: Actor,
): Promise<Account> {
  const at = nowIso();
  const audit =
    actor &&
    (limit === null
      ? auditItem(accountId, actor, 'spend_limit.cleared')
      : auditItem(accountId, actor, 'spend_limit.set', { details: { monthly_spend_limit: toWire(limit) } }));
  const result = await conditionalUpdate(
    accountId,
    limit === null
      ? {
          UpdateExpression: 'REMOVE spend_limit SET updated_at = :at',
          ConditionExpression: 'billing_mode = :postpaid',
          ExpressionAttributeValues: { ':postpaid': 'postpaid', ':at': at },
        }
      : {
          UpdateExpression:
            'SET spend_limit = :limit, period_headroom = :limit - if_not_exists(period_committed, :zero), updated_at = :at',
          ConditionExpression: 'billing_mode = :postpaid',
          ExpressionAttributeValues: { ':postpaid': 'postpaid', ':limit': limit, ':zero': 0, ':at': at },
        },
    audit,
  );
  if ('account' in result) return result.account;
  if (!result.refused) throw new NotFoundError('Account not found');
  throw new WrongBillingModeError('A spend limit applies to postpaid accounts only');
}

/** The postpaid part of `GET /v1/credits` and of the spend-limit answer, for the current period. */
/** A postpaid account's period figures: `PUT /v1/billing/spend-limit`, and part of the account views. */
export const postpaidSchema = z.object({
  period: z.string().check(z.describe('The current UTC month, YYYY-MM')),
  period_usage: usd,
  monthly_spend_limit: z.nullable(usd),
  payment_terms_days: z.number().check(z.int()),
});

export function postpaidView(account: Account, at = nowIso()): z.output<typeof postpaidSchema> {
  const period = periodOf(at);
  const usage = account.period === period ? (account.period_usage ?? (0 as Micros)) : (0 as Micros);
  return {
    period,
    period_usage: toWire(usage),
    monthly_spend_limit: account.spend_limit === undefined ? null : toWire(account.spend_limit),
    payment_terms_days: account.payment_terms_days ?? DEFAULT_PAYMENT_TERMS_DAYS,
  };
}
