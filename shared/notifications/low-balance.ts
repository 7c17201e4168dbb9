// The low-balance alert, its detection: after the rollup consumer (shared/usage/apply.ts) has handled a stream
// batch of ledger entries, each account whose entries moved money is checked against its own alert threshold
// (`low_balance_threshold` of its notification settings, shared/notifications/settings.ts), and a crossing
// records one `credits.balance.low` event (`source: 'alert_threshold'`) through the outbox, which the email
// worker turns into the email.
//
// Rules:
// - The alert has its own item (`ACCOUNT#<id>` / `LOW_BALANCE_ALERT`): `state` fired | armed, the `threshold`
//   it fired for, and a `version` that every change increments. No item: armed.
// - It fires when a check finds the account's available balance (summed over its balance shards) below the
//   threshold and the alert is not fired for that same threshold: the event and the item's flip to fired are
//   one transaction, conditioned on the version the check read. So a redelivered batch, two concurrent
//   invocations, or a check that read stale state never record two events for one crossing; a check whose
//   condition failed reads again and decides anew.
// - It re-arms when a check finds the balance at or above the threshold, or the threshold removed (then
//   without reading the balance); re-arming records no event.
// - A PUT that keeps the threshold keeps the state: no second event for the same crossing. A new threshold
//   (removing it and setting it again included, once a ledger entry was checked in between) starts armed and
//   is evaluated at the account's next ledger entry, not at the PUT.
// - Debited accounts only (prepaid, and AWS Marketplace contracts): postpaid and pay-as-you-go Marketplace
//   usage never takes a balance.
// - The balance is sampled when the consumer checks (shortly after each batch), not at each entry: a dip
//   below the threshold and back above within one batch, or a hold alone (which writes no ledger entry),
//   is seen only when a check finds it.
// Cost: one BatchGetItem per batch (settings + alert of each account whose entries moved money); only accounts
// with a threshold then read their balance (the account item, and its shards if sharded). The charge path is
// untouched.
// Failure: a check that fails is logged and counted (`LowBalanceCheckFailed`) and never fails the batch (the
// rollups, which invoicing and metering wait for, must not stall behind an advisory alert); the account's next
// ledger entry checks again, from the balance then.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { batchGetConsistent } from '../dynamo/batch-get.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { updateIf } from '../dynamo/transact.ts';
import { billingEvent, updateWithEvents } from '../events/outbox.ts';
import { readShards } from '../ledger/balance-shards.ts';
import { totalOf } from '../ledger/shard-plan.ts';
import type { LedgerEntry } from '../ledger/types.ts';
import { type Micros, toWire } from '../money.ts';
import { logger, metrics } from '../observability/powertools.ts';

export const LOW_BALANCE_ALERT_KIND = 'low_balance_alert';

/** The alert's item as read: undefined when it was never written (armed). */
export type AlertState = { state: 'armed' | 'fired'; threshold?: Micros; version: number };

/** What a check knows before it reads any balance. */
export type AlertInputs = { threshold: Micros | null; alert: AlertState | undefined };

/** The account's balance as the check read it (undefined: no account). */
export type AccountBalance = { mode: string; available: Micros } | undefined;

export type AlertStep =
  | { action: 'none' }
  | { action: 'fire'; threshold: Micros; available: Micros }
  | { action: 'rearm' };

const firedFor = (alert: AlertState | undefined, threshold: Micros) =>
  alert?.state === 'fired' && alert.threshold === threshold;

/** The modes whose usage is debited from a balance that can run low. */
const DEBITED_MODES = new Set(['prepaid', 'marketplace_contract']);

/** Whether the check must read the balance: only an account with a threshold. */
export function needsBalance(inputs: AlertInputs): boolean {
  return inputs.threshold !== null;
}

/** The check's decision, from the settings and alert it read and (when it needed one) the balance. */
export function planAlert(inputs: AlertInputs, balance: AccountBalance): AlertStep {
  const { threshold, alert } = inputs;
  if (threshold === null) return alert?.state === 'fired' ? { action: 'rearm' } : { action: 'none' };
  if (!balance || !DEBITED_MODES.has(balance.mode)) return { action: 'none' };
  if (balance.available < threshold)
    return firedFor(alert, threshold)
      ? { action: 'none' }
      : { action: 'fire', threshold, available: balance.available };
  return alert?.state === 'fired' ? { action: 'rearm' } : { action: 'none' };
}

/** The accounts a batch's entries changed the balance of, each once, in order of first appearance. */
export function accountsToCheck(entries: LedgerEntry[]): string[] {
  return [...new Set(entries.filter((entry) => entry.amount !== 0).map((entry) => entry.account_id))];
}

function alertOf(item: Record<string, unknown> | undefined): AlertState | undefined {
  if (!item) return undefined;
  return {
    state: item.state === 'fired' ? 'fired' : 'armed',
    ...(item.threshold === undefined ? {} : { threshold: Number(item.threshold) as Micros }),
    version: Number(item.version ?? 0),
  };
}

function thresholdOf(settings: Record<string, unknown> | undefined): Micros | null {
  const threshold = settings?.low_balance_threshold;
  return threshold === undefined || threshold === null ? null : (Number(threshold) as Micros);
}

async function readBalance(accountId: string): Promise<AccountBalance> {
  const read = await readShards(accountId);
  if (!read.item) return undefined;
  return { mode: String(read.item.billing_mode), available: totalOf(read.states).available };
}

async function readAlert(accountId: string): Promise<AlertState | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.lowBalanceAlert(accountId),
      ConsistentRead: true,
    }),
  );
  return alertOf(result.Item);
}

/** The write's condition: the alert is still as the check read it (never written, or the same version). */
function asRead(alert: AlertState | undefined) {
  return alert === undefined
    ? { ConditionExpression: 'attribute_not_exists(PK)', values: {} }
    : { ConditionExpression: 'version = :read', values: { ':read': alert.version } };
}

/** Executes a step; false when the alert changed since it was read (the caller reads again). */
async function execute(accountId: string, alert: AlertState | undefined, step: AlertStep): Promise<boolean> {
  if (step.action === 'none') return true;
  const condition = asRead(alert);
  const at = nowIso();
  const version = (alert?.version ?? 0) + 1;
  if (step.action === 'rearm') {
    return updateIf({
      TableName: config.tableName,
      Key: keys.lowBalanceAlert(accountId),
      UpdateExpression: 'SET #state = :armed, version = :version, rearmed_at = :at',
      ConditionExpression: condition.ConditionExpression,
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ...condition.values, ':armed': 'armed', ':version': version, ':at': at },
    });
  }
  const event = billingEvent(
    'credits.balance.low',
    accountId,
    { available: toWire(step.available), threshold: toWire(step.threshold), source: 'alert_threshold' },
    at,
  );
  const fired = await updateWithEvents(
    {
      Key: keys.lowBalanceAlert(accountId),
      UpdateExpression:
        'SET kind = :kind, account_id = :account, #state = :fired, threshold = :threshold, version = :version, fired_at = :at, event_id = :event',
      ConditionExpression: condition.ConditionExpression,
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ...condition.values,
        ':kind': LOW_BALANCE_ALERT_KIND,
        ':account': accountId,
        ':fired': 'fired',
        ':threshold': step.threshold,
        ':version': version,
        ':at': at,
        ':event': event.event_id,
      },
    },
    [event],
  );
  if (fired) metrics.addMetric('LowBalanceAlertsFired', MetricUnit.Count, 1);
  return fired;
}

/** How often a check whose condition failed (another check changed the alert) reads and decides again. */
const CHECK_ATTEMPTS = 4;

async function checkAccount(accountId: string, first: AlertInputs): Promise<void> {
  let inputs = first;
  for (let attempt = 1; attempt <= CHECK_ATTEMPTS; attempt++) {
    const balance = needsBalance(inputs) ? await readBalance(accountId) : undefined;
    const step = planAlert(inputs, balance);
    if (await execute(accountId, inputs.alert, step)) return;
    inputs = { threshold: inputs.threshold, alert: await readAlert(accountId) };
  }
  throw new Error(`the low-balance alert kept changing under ${CHECK_ATTEMPTS} checks`);
}

/**
 * Checks the alerts of `accountIds` (the accounts a batch's entries moved money for). Never throws: a
 * failure is logged and counted, and the account's next ledger entry checks again.
 */
export async function checkLowBalanceAlerts(accountIds: string[]): Promise<void> {
  if (accountIds.length === 0) return;
  let items: (Record<string, unknown> | undefined)[];
  try {
    items = await batchGetConsistent(
      accountIds.flatMap((accountId) => [
        keys.notificationSettings(accountId),
        keys.lowBalanceAlert(accountId),
      ]),
      () => new Error('notification settings stayed unread (throttled)'),
    );
  } catch (error) {
    logger.error('low-balance check failed; the accounts’ next entries check again', { error });
    metrics.addMetric('LowBalanceCheckFailed', MetricUnit.Count, accountIds.length);
    return;
  }
  const failed = await Promise.all(
    accountIds.map(async (accountId, index) => {
      const inputs = { threshold: thresholdOf(items[2 * index]), alert: alertOf(items[2 * index + 1]) };
      if (!needsBalance(inputs) && inputs.alert?.state !== 'fired') return false;
      try {
        await checkAccount(accountId, inputs);
        return false;
      } catch (error) {
        logger.error('low-balance check failed; the account’s next entry checks again', { accountId, error });
        return true;
      }
    }),
  );
  const failures = failed.filter(Boolean).length;
  if (failures > 0) metrics.addMetric('LowBalanceCheckFailed', MetricUnit.Count, failures);
}
