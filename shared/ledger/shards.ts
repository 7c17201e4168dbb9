// Where a sharded prepaid account keeps its money and its charges' records (design: SHARDS.md). Shard 0 is
// the account item itself, so an account with one shard is exactly an unsharded account; shards 1..N-1 are
// items with their own partition keys. Ledger entries of charges made since the account was first sharded
// go to ledger slots, placed by the entry id, so no single partition takes every charge's writes.

import { keys, shardOfAccount } from '../dynamo/keys.ts';

export const MIN_BALANCE_SHARDS = 1;
export const MAX_BALANCE_SHARDS = 32;
export const LEDGER_SLOTS = 32;

/**
 * How an account's charges are laid out, as read from its account item: `shards` balance items, and, once
 * the account was first sharded, the first entry id (a ULID) whose charge records go to the ledger slots.
 */
export type Placement = { shards: number; slotsSince?: string };

export const UNSHARDED: Placement = { shards: 1 };

export function placementOf(item: { balance_shards?: unknown; ledger_slots_since?: unknown }): Placement {
  const shards = typeof item.balance_shards === 'number' ? item.balance_shards : 1;
  const since = item.ledger_slots_since;
  return typeof since === 'string' ? { shards, slotsSince: since } : { shards };
}

export function isSharded(placement: Placement | undefined): boolean {
  return (placement?.shards ?? 1) > 1;
}

/** The key of balance shard `shard` (0: the account item). */
export function shardKey(accountId: string, shard: number): { PK: string; SK: string } {
  return shard === 0 ? keys.account(accountId) : keys.balanceShard(accountId, shard);
}

/**
 * A well-mixed hash of an id (FNV-1a, then murmur3's finalizer): ULIDs of one millisecond differ only in
 * their last characters, and FNV-1a's low bits alone spread them unevenly over a power-of-two count.
 */
function spreadHash(id: string, buckets: number): number {
  let hash = shardOfAccount(id, 2 ** 32);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % buckets;
}

/** The shard a charge tries first: its entry id's hash, so a retried request tries the same one. */
export function firstShardOf(entryId: string, shards: number): number {
  return shards <= 1 ? 0 : spreadHash(entryId, shards);
}

/** Whether a charge's records go to the ledger slots (made since the account was first sharded). */
export function isSlotted(entryId: string, placement: Placement | undefined): boolean {
  return placement?.slotsSince !== undefined && entryId >= placement.slotsSince;
}

/** The partition key of a charge's records: its ledger slot, or the account partition. */
function recordPartition(accountId: string, entryId: string, placement: Placement | undefined): string {
  return isSlotted(entryId, placement)
    ? keys.ledgerSlot(accountId, spreadHash(entryId, LEDGER_SLOTS))
    : keys.account(accountId).PK;
}

/** The key of a charge's (or its reversal's) ledger entry. */
export function chargeEntryKey(
  accountId: string,
  entryId: string,
  placement: Placement | undefined,
): { PK: string; SK: string } {
  return { PK: recordPartition(accountId, entryId, placement), SK: keys.ledgerEntry(accountId, entryId).SK };
}

/** The key of a charge's Idempotency-Key guard: beside the charge's entry. */
export function chargeGuardKey(
  accountId: string,
  reference: string,
  entryId: string,
  placement: Placement | undefined,
): { PK: string; SK: string } {
  return { PK: recordPartition(accountId, entryId, placement), SK: keys.reference(accountId, reference).SK };
}

/** Every partition holding ledger entries of the account: its own, and its slots once it was sharded. */
export function ledgerPartitions(accountId: string, placement: Placement | undefined): string[] {
  const own = keys.account(accountId).PK;
  if (placement?.slotsSince === undefined) return [own];
  return [own, ...Array.from({ length: LEDGER_SLOTS }, (_, slot) => keys.ledgerSlot(accountId, slot))];
}
