// Pure planning for sharded balances (SHARDS.md): from the shards as read, which shard a charge should
// debit, or how to move credit between shards so one can pay it, or that the account as a whole cannot.
// No IO here: shared/ledger/balance-shards.ts reads the shards and executes the plans.

import type { Micros } from '../money.ts';

/** One balance shard as read: `exists` is false for a shard item that is missing (its money is not there). */
export type ShardState = {
  shard: number;
  exists: boolean;
  balance: Micros;
  held: Micros;
  available: Micros;
  entry_count: number;
};

/** Credit moved onto (`delta` > 0) or off (`delta` < 0) one shard; a shard never gives more than it has. */
export type ShardMove = { shard: number; delta: Micros };

export type ChargePlan =
  /** Debit this shard: it had the cost available when read. */
  | { kind: 'charge'; shard: number }
  /** No shard alone can pay, the account can: move credit (`moves`), then debit `shard`. */
  | { kind: 'rebalance'; shard: number; moves: ShardMove[] }
  /** The account as a whole cannot pay (or is in debt): a 402. */
  | { kind: 'insufficient' };

export type AccountTotal = { balance: Micros; held: Micros; available: Micros; entry_count: number };

/** The account's money: the sum of its shards (a missing shard holds nothing). */
export function totalOf(shards: ShardState[]): AccountTotal {
  const total = { balance: 0, held: 0, available: 0, entry_count: 0 };
  for (const shard of shards) {
    if (!shard.exists) continue;
    total.balance += shard.balance;
    total.held += shard.held;
    total.available += shard.available;
    total.entry_count += shard.entry_count;
  }
  return total as AccountTotal;
}

/**
 * Where a charge of `cost` goes. `preferred`: the shard to try first when it can pay (the charge's own hash);
 * `avoid`: a shard that just refused it (its read may be older than its refusal). A zero-cost charge goes to
 * shard 0, which carries any debt (a refund below zero), so even free calls are refused while in debt.
 */
export function planCharge(
  shards: ShardState[],
  cost: Micros,
  preferred: number,
  avoid?: number,
): ChargePlan {
  const home = shards.find((shard) => shard.shard === 0);
  if (!home?.exists || home.available < 0) return { kind: 'insufficient' };
  if (cost === 0) return { kind: 'charge', shard: 0 };
  const usable = shards.filter((shard) => shard.exists);
  const payers = usable.filter((shard) => shard.available >= cost);
  if (payers.length) {
    // The preferred shard, else the next one round the ring from it that can pay: concurrent charges that
    // were refused by different shards spread over the payers instead of all taking the richest.
    const ring = [...payers].sort(
      (a, b) => ringDistance(a.shard, preferred, shards) - ringDistance(b.shard, preferred, shards),
    );
    const pick = ring.find((shard) => shard.shard !== avoid) ?? ring[0]!;
    return { kind: 'charge', shard: pick.shard };
  }
  const total = usable.reduce((sum, shard) => sum + shard.available, 0);
  if (total < cost) return { kind: 'insufficient' };
  const target = usable.find((shard) => shard.shard === preferred) ?? usable[0]!;
  return { kind: 'rebalance', shard: target.shard, moves: spread(usable, target.shard, cost) };
}

function ringDistance(shard: number, from: number, shards: ShardState[]): number {
  const size = Math.max(...shards.map((s) => s.shard)) + 1;
  return (shard - from + size) % size;
}

/**
 * The moves that spread the shards' available credit evenly, with at least `atLeast` on `target` (the rest of
 * any division goes there too). Every shard's available stays >= 0; the moves sum to zero.
 */
export function spread(shards: ShardState[], target: number, atLeast: number): ShardMove[] {
  const usable = shards.filter((shard) => shard.exists);
  const total = usable.reduce((sum, shard) => sum + Math.max(0, shard.available), 0);
  if (usable.length === 0 || total < atLeast) return [];
  const others = usable.filter((shard) => shard.shard !== target);
  const share = Math.floor(total / usable.length);
  const onTarget = Math.max(atLeast, share);
  const each = others.length ? Math.floor((total - onTarget) / others.length) : 0;
  const goal = new Map<number, number>(others.map((shard) => [shard.shard, each]));
  goal.set(target, total - each * others.length);
  const moves: ShardMove[] = [];
  for (const shard of usable) {
    // A negative shard (only shard 0 can be: debt) keeps its debt; the planner never spreads then.
    const delta = (goal.get(shard.shard) ?? 0) - Math.max(0, shard.available);
    if (delta !== 0) moves.push({ shard: shard.shard, delta: delta as Micros });
  }
  return moves;
}

/**
 * Gathering every other shard's available credit onto shard 0: before a refund or correction takes credit
 * back (they work on the account total), and when lowering the count (removed shards give all they hold).
 */
export function gatherMoves(shards: ShardState[], from: (shard: ShardState) => boolean): ShardMove[] {
  const moves: ShardMove[] = [];
  let gathered = 0;
  for (const shard of shards) {
    if (shard.shard === 0 || !shard.exists || !from(shard) || shard.available <= 0) continue;
    moves.push({ shard: shard.shard, delta: -shard.available as Micros });
    gathered += shard.available;
  }
  if (gathered > 0) moves.unshift({ shard: 0, delta: gathered as Micros });
  return moves;
}
