// The sharded balance planner (shared/ledger/shard-plan.ts): which shard pays, when credit moves, and that a
// plan never overdraws a shard, never creates or loses money and refuses only when the total cannot pay.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gatherMoves, planCharge, type ShardState, spread, totalOf } from '#shared/ledger/shard-plan.ts';
import type { Micros } from '#shared/money.ts';

const shard = (index: number, available: number, exists = true): ShardState => ({
  shard: index,
  exists,
  balance: available as Micros,
  held: 0 as Micros,
  available: available as Micros,
  entry_count: 0,
});
const shards = (...available: number[]) => available.map((a, i) => shard(i, a));
const m = (n: number) => n as Micros;

function applyMoves(states: ShardState[], moves: { shard: number; delta: number }[]): ShardState[] {
  return states.map((s) => {
    const delta = moves.filter((move) => move.shard === s.shard).reduce((sum, move) => sum + move.delta, 0);
    return { ...s, available: (s.available + delta) as Micros, balance: (s.balance + delta) as Micros };
  });
}

describe('planCharge', () => {
  it.each([
    {
      name: 'the preferred shard pays when it can',
      avail: [10, 10, 10],
      cost: 5,
      preferred: 1,
      plan: 'charge',
      at: 1,
    },
    {
      name: 'the next shard round the ring when the preferred cannot',
      avail: [10, 0, 0, 10],
      cost: 5,
      preferred: 1,
      plan: 'charge',
      at: 3,
    },
    { name: 'wraps round the ring', avail: [10, 0, 0, 0], cost: 5, preferred: 2, plan: 'charge', at: 0 },
    {
      name: 'a rebalance when no shard alone can but the total can',
      avail: [3, 3, 3],
      cost: 5,
      preferred: 2,
      plan: 'rebalance',
      at: 2,
    },
    {
      name: 'refused when the total cannot pay',
      avail: [3, 1, 0],
      cost: 5,
      preferred: 0,
      plan: 'insufficient',
    },
    {
      name: 'refused in debt (shard 0 below zero), whatever the others hold',
      avail: [-1, 100, 100],
      cost: 5,
      preferred: 1,
      plan: 'insufficient',
    },
    { name: 'a free call goes to shard 0', avail: [0, 10, 10], cost: 0, preferred: 2, plan: 'charge', at: 0 },
    { name: 'a free call in debt is refused', avail: [-1, 10], cost: 0, preferred: 1, plan: 'insufficient' },
    {
      name: 'exactly the cost available in total',
      avail: [2, 2, 1],
      cost: 5,
      preferred: 1,
      plan: 'rebalance',
      at: 1,
    },
  ])('$name', ({ avail, cost, preferred, plan, at }) => {
    const result = planCharge(shards(...avail), m(cost), preferred);
    expect(result.kind).toBe(plan);
    if (result.kind !== 'insufficient') expect(result.shard).toBe(at);
  });

  it('skips a missing shard: it holds nothing and cannot pay', () => {
    const states = [shard(0, 2), shard(1, 100, false), shard(2, 4)];
    const plan = planCharge(states, m(5), 1);
    expect(plan.kind).toBe('rebalance');
    if (plan.kind === 'rebalance') expect(plan.moves.some((move) => move.shard === 1)).toBe(false);
    expect(planCharge(states, m(7), 1).kind).toBe('insufficient');
  });

  it('avoids the shard that just refused when another can pay', () => {
    expect(planCharge(shards(10, 10, 10), m(5), 1, 1)).toEqual({ kind: 'charge', shard: 2 });
  });

  it('a missing account item (shard 0) is refused', () => {
    expect(planCharge([shard(0, 0, false), shard(1, 10)], m(1), 1).kind).toBe('insufficient');
  });

  it('property: never an overdraft, money conserved, the target can pay, 402 only when the total cannot', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 32 }),
        fc.integer({ min: 1, max: 2_000_000 }),
        fc.nat(),
        (avail, cost, seed) => {
          const states = shards(...avail);
          const preferred = seed % states.length;
          const plan = planCharge(states, m(cost), preferred);
          const total = avail.reduce((a, b) => a + b, 0);
          if (plan.kind === 'insufficient') {
            expect(total).toBeLessThan(cost);
            return;
          }
          const after = plan.kind === 'rebalance' ? applyMoves(states, plan.moves) : states;
          expect(totalOf(after).available).toBe(total);
          for (const s of after) expect(s.available).toBeGreaterThanOrEqual(0);
          expect(after[plan.shard]!.available).toBeGreaterThanOrEqual(cost);
          if (plan.kind === 'rebalance') {
            for (const move of plan.moves) {
              if (move.delta < 0) expect(-move.delta).toBeLessThanOrEqual(states[move.shard]!.available);
            }
          }
        },
      ),
    );
  });
});

describe('spread and gather', () => {
  it('spreads evenly, the remainder on the target', () => {
    const after = applyMoves(shards(100, 0, 0, 0), spread(shards(100, 0, 0, 0), 0, 0));
    expect(after.map((s) => s.available)).toEqual([25, 25, 25, 25]);
    const odd = applyMoves(shards(10, 0, 0), spread(shards(10, 0, 0), 1, 0));
    expect(odd.map((s) => s.available)).toEqual([3, 4, 3]);
  });

  it('gathers the chosen shards onto shard 0', () => {
    const states = shards(1, 5, 7, 0);
    const moves = gatherMoves(states, (s) => s.shard >= 2);
    expect(applyMoves(states, moves).map((s) => s.available)).toEqual([8, 5, 0, 0]);
    expect(gatherMoves(shards(1, 0, 0), () => true)).toEqual([]);
  });
});
