// Sharded balances, the IO side (design: SHARDS.md; the plans: shard-plan.ts): reading an account's shards
// in one snapshot and their total, the operator setting the count, moving credit between shards in one
// conditional transaction, and a prepaid charge that finds a shard able to pay it.

import { GetCommand, TransactGetCommand } from '@aws-sdk/lib-dynamodb';
import { auditItem } from '../audit/trail.ts';
import type { Actor } from '../auth/caller.ts';
import { headroomFollows } from '../auto-refill/headroom.ts';
import { relist } from '../auto-refill/store.ts';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { batchGetConsistent } from '../dynamo/batch-get.ts';
import { ddb } from '../dynamo/client.ts';
import { sleep, type TransactItem, transactWrite } from '../dynamo/transact.ts';
import { ConflictError, NotFoundError, TemporarilyUnavailableError } from '../errors.ts';
import { ulidFrom } from '../ids.ts';
import type { Micros } from '../money.ts';
import { chargeUsage, type UsageCharge } from './ledger.ts';
import {
  type AccountTotal,
  gatherMoves,
  planCharge,
  type ShardMove,
  type ShardState,
  spread,
  totalOf,
} from './shard-plan.ts';
import { firstShardOf, isSharded, type Placement, placementOf, shardKey } from './shards.ts';

export const BALANCE_SHARD_KIND = 'balance_shard';

/** An account's item and its shards, read in one snapshot. */
export type ShardsRead = {
  item: Record<string, unknown> | undefined;
  placement: Placement;
  states: ShardState[];
};

function stateOf(shard: number, item: Record<string, unknown> | undefined): ShardState {
  return {
    shard,
    exists: item !== undefined,
    balance: Number(item?.balance ?? 0) as Micros,
    held: Number(item?.held ?? 0) as Micros,
    available: Number(item?.available ?? 0) as Micros,
    entry_count: Number(item?.entry_count ?? 0),
  };
}

const SNAPSHOT_ATTEMPTS = 5;

/**
 * The account item and shards 1..N-1 in one TransactGetItems: a snapshot, so a rebalance is never seen half
 * done (the sum a reader sees is always the sum of the ledger). Read again if the count changed meanwhile.
 */
export async function readShards(accountId: string, knownShards?: number): Promise<ShardsRead> {
  let shards = knownShards ?? 0;
  if (shards <= 1) {
    // One consistent read first: an account with one shard is only its account item.
    const result = await ddb().send(
      new GetCommand({ TableName: config.tableName, Key: shardKey(accountId, 0), ConsistentRead: true }),
    );
    const item = result.Item;
    if (!item) return { item: undefined, placement: { shards: 1 }, states: [] };
    const placement = placementOf(item);
    if (!isSharded(placement)) return { item, placement, states: [stateOf(0, item)] };
    shards = placement.shards;
  }
  for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
    const items = await snapshotOf(accountId, shards);
    const item = items[0];
    if (!item) return { item: undefined, placement: { shards: 1 }, states: [] };
    const placement = placementOf(item);
    if (placement.shards <= shards) {
      return {
        item,
        placement,
        states: Array.from({ length: placement.shards }, (_, shard) => stateOf(shard, items[shard])),
      };
    }
    shards = placement.shards;
  }
  throw new TemporarilyUnavailableError();
}

/**
 * Shards 0..shards-1 in one TransactGetItems. DynamoDB refuses one while a transaction is writing an item it
 * reads (a hot account's shards often are): tried again with backoff, then read with BatchGetItem (each item
 * consistent; a rebalance committing in between may be seen on one side only, which a reader of the balance
 * tolerates and money never depends on: every move and debit is conditioned on the shard's own item).
 */
async function snapshotOf(
  accountId: string,
  shards: number,
): Promise<(Record<string, unknown> | undefined)[]> {
  for (let attempt = 1; attempt <= SNAPSHOT_ATTEMPTS; attempt++) {
    try {
      const result = await ddb().send(
        new TransactGetCommand({
          TransactItems: Array.from({ length: shards }, (_, shard) => ({
            Get: { TableName: config.tableName, Key: shardKey(accountId, shard) },
          })),
        }),
      );
      return (result.Responses ?? []).map((response) => response.Item);
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') throw error;
      await sleep(Math.random() * 10 * 2 ** attempt);
    }
  }
  return latestOf(accountId, shards);
}

/**
 * Shards 0..shards-1 with BatchGetItem, each read consistently: what a charge plans on and what
 * `x-credits-remaining` says after it (never refused by a transaction in flight).
 */
export async function latestOf(
  accountId: string,
  shards: number,
): Promise<(Record<string, unknown> | undefined)[]> {
  const wanted = Array.from({ length: shards }, (_, shard) => shardKey(accountId, shard));
  return batchGetConsistent(wanted, () => new TemporarilyUnavailableError(), SNAPSHOT_ATTEMPTS * 2);
}

/** The account's total in one snapshot of its shards (undefined: no account). */
export async function readAccountTotal(accountId: string): Promise<AccountTotal | undefined> {
  const read = await readShards(accountId);
  return read.item ? totalOf(read.states) : undefined;
}

/** The account's shards as they hold it now, read with BatchGetItem (see `latestOf`). */
async function readLatest(accountId: string, shards: number): Promise<ShardsRead> {
  const items = await latestOf(accountId, shards);
  const item = items[0];
  if (!item) return { item: undefined, placement: { shards: 1 }, states: [] };
  const placement = placementOf(item);
  const states = Array.from({ length: Math.min(placement.shards, shards) }, (_, shard) =>
    stateOf(shard, items[shard]),
  );
  return { item, placement, states };
}

/** The account's total as its shards hold it now (BatchGetItem: see `latestOf`). */
export async function latestTotal(accountId: string, shards: number): Promise<AccountTotal | undefined> {
  const read = await readLatest(accountId, shards);
  return read.item ? totalOf(read.states) : undefined;
}

const reading = new Map<string, Promise<AccountTotal | undefined>>();
const queued = new Map<string, Promise<AccountTotal | undefined>>();

/**
 * The account's total read after the caller's charge committed (`x-credits-remaining`). Concurrent charges of
 * one instance share reads: a caller joins the read queued to start after the one in flight (which may have
 * begun before its commit), so every caller's answer comes from a read that began after its own commit, and a
 * hot account costs one read per round trip rather than one per charge.
 */
export function totalAfterCommit(accountId: string, shards: number): Promise<AccountTotal | undefined> {
  const waiting = queued.get(accountId);
  if (waiting) return waiting;
  const start = () => {
    queued.delete(accountId);
    const read = latestTotal(accountId, shards).finally(() => {
      if (reading.get(accountId) === read) reading.delete(accountId);
    });
    reading.set(accountId, read);
    return read;
  };
  const inFlight = reading.get(accountId);
  if (!inFlight) return start();
  const next = inFlight.catch(() => undefined).then(start);
  queued.set(accountId, next);
  return next;
}

/**
 * The account item with its money summed over its shards (unchanged for one shard): what every reader of a
 * balance sees (GET /v1/credits, the views, history, reconciliation).
 */
export async function withShardTotals(
  accountId: string,
  item: Record<string, unknown>,
): Promise<Record<string, unknown> | undefined> {
  if (!isSharded(placementOf(item))) return item;
  const read = await readShards(accountId, placementOf(item).shards);
  if (!read.item) return undefined;
  return { ...read.item, ...totalOf(read.states) };
}

function moveItem(accountId: string, move: ShardMove, at: string): TransactItem {
  const taking = move.delta < 0;
  const headroom = move.shard === 0 ? `, ${headroomFollows('+', ':delta')}` : '';
  return {
    Update: {
      TableName: config.tableName,
      Key: shardKey(accountId, move.shard),
      UpdateExpression: `SET balance = balance + :delta, available = available + :delta${headroom}, updated_at = :at`,
      // A shard never gives more than it has: no overdraft, not even while credit is on its way.
      ConditionExpression: taking ? 'available >= :take' : 'attribute_exists(PK)',
      ExpressionAttributeValues: {
        ':delta': move.delta,
        ':at': at,
        ...(taking ? { ':take': -move.delta } : {}),
      },
    },
  };
}

/** Moves credit between shards in one transaction; false when a shard changed since it was read. */
export async function moveCredit(accountId: string, moves: ShardMove[]): Promise<boolean> {
  if (moves.length === 0) return true;
  const at = nowIso();
  const outcome = await transactWrite(moves.map((move) => moveItem(accountId, move, at)));
  return outcome.committed;
}

/** Spreads the account's available credit evenly over its shards (after a raise, or by an operator). */
export async function spreadCredit(accountId: string): Promise<boolean> {
  for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
    const read = await readShards(accountId);
    if (!read.item || !isSharded(read.placement)) return false;
    const home = read.states[0];
    if (!home || home.available < 0) return false;
    if (await moveCredit(accountId, spread(read.states, 0, 0))) return true;
  }
  return false;
}

/**
 * Moves credit onto the account item (shard 0) until it has `amount` available, when the account's total
 * can: a per-unit call's hold is reserved on the account item. False when the total cannot (or in debt).
 */
export async function fundAccountItem(accountId: string, amount: Micros): Promise<boolean> {
  const read = await readShards(accountId);
  const home = read.states[0];
  if (!read.item || !isSharded(read.placement) || !home || home.available < 0) return false;
  if (home.available >= amount) return true;
  if (totalOf(read.states).available < amount) return false;
  return moveCredit(accountId, spread(read.states, 0, amount));
}

/**
 * The writes that gather every shard's available credit onto shard 0 in a credit's own transaction (a
 * refund or correction works on the account total), each conditioned on exactly what was read: after it
 * commits, shards 1..N-1 hold nothing and shard 0 holds the whole total, so a refund that takes the total
 * below zero leaves no shard able to pay (the debt blocks usage on every shard).
 */
export async function gatherForTakeBack(
  accountId: string,
): Promise<{ gathered: Micros; items: TransactItem[] } | undefined> {
  const read = await readShards(accountId);
  if (!read.item || !isSharded(read.placement)) return undefined;
  const at = nowIso();
  const moves = gatherMoves(read.states, () => true).filter((move) => move.shard !== 0);
  const items: TransactItem[] = read.states
    .filter((state) => state.shard !== 0 && state.exists)
    .map((state) => {
      const move = moves.find((m) => m.shard === state.shard);
      return move
        ? {
            Update: {
              TableName: config.tableName,
              Key: shardKey(accountId, state.shard),
              UpdateExpression:
                'SET balance = balance + :delta, available = available + :delta, updated_at = :at',
              ConditionExpression: 'available = :read',
              ExpressionAttributeValues: { ':delta': move.delta, ':at': at, ':read': state.available },
            },
          }
        : {
            // Nothing to take, but it must still hold nothing when the credit commits.
            Update: {
              TableName: config.tableName,
              Key: shardKey(accountId, state.shard),
              UpdateExpression: 'SET updated_at = :at',
              ConditionExpression: 'available = :read',
              ExpressionAttributeValues: { ':at': at, ':read': state.available },
            },
          };
    });
  const gathered = moves.reduce((sum, move) => sum - move.delta, 0) as Micros;
  return { gathered, items };
}

const MAX_SHARD_ATTEMPTS = 16;

/** The account's money as a charge refusal reports it (the total, for the depletion event and the view). */
function refusalMoney(read: ShardsRead, total: AccountTotal) {
  const item = read.item ?? {};
  return {
    balance: total.balance,
    held: total.held,
    available: total.available,
    billing_mode: String(item.billing_mode ?? ''),
    auto_refill_active:
      (item.auto_refill as { enabled?: boolean; status?: string } | undefined)?.status === 'active' &&
      (item.auto_refill as { enabled?: boolean }).enabled === true,
    refill_listed: item.GSI2PK !== undefined,
  };
}

/**
 * A prepaid charge on a sharded account: the shard its entry id hashes to; if that one cannot pay, the plan
 * from a fresh read of all shards (another shard, or credit moved onto one first). `insufficient` only when
 * the account's total cannot pay. Other accounts and modes: the plain charge.
 */
export async function chargeOnShards(charge: UsageCharge): ReturnType<typeof chargeUsage> {
  const placement = charge.placement;
  const prepaid = (charge.billing?.mode ?? 'prepaid') === 'prepaid';
  if (!prepaid || !placement || !isSharded(placement)) return chargeUsage(charge);
  const preferred = firstShardOf(charge.entryId, placement.shards);
  let shard = preferred;
  for (let attempt = 0; attempt < MAX_SHARD_ATTEMPTS; attempt++) {
    // Charges racing for the last credit keep taking each other's shards: back off a little, at random.
    if (attempt > 1) await sleep(Math.random() * 5 * attempt);
    const outcome = await chargeUsage({ ...charge, shard });
    if (outcome.status !== 'insufficient') return outcome;
    let read = await readLatest(charge.accountId, placement.shards);
    let plan = read.item ? planCharge(read.states, charge.cost, preferred, shard) : undefined;
    // The shards were read one by one: a rebalance seen half done can hide credit. A refusal is decided on
    // a snapshot only.
    if (plan?.kind === 'insufficient') {
      read = await readShards(charge.accountId, placement.shards);
      plan = read.item ? planCharge(read.states, charge.cost, preferred, shard) : undefined;
    }
    if (!read.item || !plan) return { status: 'insufficient', account: undefined };
    const total = totalOf(read.states);
    if (read.item.billing_mode !== 'prepaid' || read.placement.shards !== placement.shards) {
      // Another mode, or the count changed: the caller learns the account and builds the charge again.
      return { status: 'wrong_mode', account: refusalMoney(read, total) as never, item: read.item };
    }
    if (plan.kind === 'insufficient')
      return { status: 'insufficient', account: refusalMoney(read, total) as never };
    if (plan.kind === 'rebalance') await moveCredit(charge.accountId, plan.moves);
    shard = plan.shard;
  }
  // Every shard that could pay was taken by concurrent charges before this one: busy, not out of credit.
  throw new TemporarilyUnavailableError();
}

export class WrongBillingModeForShardsError extends ConflictError {
  constructor(mode: string) {
    super(
      'wrong_billing_mode',
      `Balance shards are for prepaid accounts; this account is billed in "${mode}" mode`,
    );
  }
}

/**
 * `PUT /admin/accounts/{id}/balance-shards`: sets how many balance items the account's spendable balance is
 * split across. Raising creates the new (empty) shards, marks the account's ledger slots the first time and
 * then spreads the credit; lowering moves the removed shards' credit and entry counts back to the account
 * item and deletes them, in one transaction conditioned on exactly what was read. The same count again
 * recreates a missing shard item.
 */
export async function setBalanceShards(accountId: string, count: number, actor?: Actor): Promise<void> {
  for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
    const read = await readShards(accountId);
    if (!read.item) throw new NotFoundError('Account not found');
    const mode = String(read.item.billing_mode);
    if (mode !== 'prepaid') throw new WrongBillingModeForShardsError(mode);
    const old = read.placement.shards;
    const at = nowIso();
    const items: TransactItem[] = [];
    let moved = { balance: 0, available: 0, entries: 0 };
    for (let shard = 1; shard < Math.max(old, count); shard++) {
      const state = read.states[shard];
      if (shard < count && !state?.exists) {
        items.push({
          Put: {
            TableName: config.tableName,
            Item: {
              ...shardKey(accountId, shard),
              kind: BALANCE_SHARD_KIND,
              account_id: accountId,
              shard,
              balance: 0,
              held: 0,
              available: 0,
              entry_count: 0,
              updated_at: at,
            },
            ConditionExpression: 'attribute_not_exists(PK)',
          },
        });
      }
      if (shard >= count && state?.exists) {
        moved = {
          balance: moved.balance + state.balance,
          available: moved.available + state.available,
          entries: moved.entries + state.entry_count,
        };
        items.push({
          Delete: {
            TableName: config.tableName,
            Key: shardKey(accountId, shard),
            ConditionExpression: 'balance = :b AND available = :a AND entry_count = :c',
            ExpressionAttributeValues: {
              ':b': state.balance,
              ':a': state.available,
              ':c': state.entry_count,
            },
          },
        });
      }
    }
    const firstShardedAt = read.placement.slotsSince === undefined && count > 1;
    items.unshift({
      Update: {
        TableName: config.tableName,
        Key: shardKey(accountId, 0),
        UpdateExpression: `SET balance_shards = :count, balance = balance + :b, available = available + :a, ${headroomFollows('+', ':a')}, updated_at = :at${firstShardedAt ? ', ledger_slots_since = :since' : ''} ADD entry_count :c`,
        ConditionExpression:
          old === 1
            ? 'billing_mode = :prepaid AND (attribute_not_exists(balance_shards) OR balance_shards = :old)'
            : 'billing_mode = :prepaid AND balance_shards = :old',
        ExpressionAttributeValues: {
          ':count': count,
          ':old': old,
          ':b': moved.balance,
          ':a': moved.available,
          ':c': moved.entries,
          ':at': at,
          ':prepaid': 'prepaid',
          // Charges whose entry id sorts at or after this go to the ledger slots; older requests (a retry
          // of a charge made before) keep finding their records in the account partition.
          ...(firstShardedAt ? { ':since': ulidFrom(nowMs(), new Uint8Array(10)) } : {}),
        },
      },
    });
    if (actor) {
      items.push(
        auditItem(accountId, actor, 'balance_shards.changed', { details: { from: old, to: count } }),
      );
    }
    const outcome = await transactWrite(items);
    if (outcome.committed) {
      if (count > 1) await spreadCredit(accountId);
      // The auto-refill headroom is the account item's share of the threshold: 1/N of it.
      if (read.item.auto_refill !== undefined) await relist(accountId);
      return;
    }
  }
  throw new TemporarilyUnavailableError();
}
