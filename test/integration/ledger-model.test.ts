// Model-based test of the ledger against DynamoDB Local: random sequences of grants, corrections, charges
// (with repeated request ids), holds, settlements and releases, compared after every step with a plain
// in-memory model. Invariants 1-4: never below zero by usage, each id moves money once, balance = sum of
// the ledger, held = sum of open holds. fast-check prints the seed and the shrunk sequence on failure.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nowIso } from '#shared/clock.ts';
import { newUlid } from '#shared/ids.ts';
import { chargeOnShards, readShards, setBalanceShards, spreadCredit } from '#shared/ledger/balance-shards.ts';
import { applyCredit, chargeUsage, releaseHold, reserveHold, settleHold } from '#shared/ledger/ledger.ts';
import { totalOf } from '#shared/ledger/shard-plan.ts';
import type { Placement } from '#shared/ledger/shards.ts';
import type { Hold } from '#shared/ledger/types.ts';
import { micros } from '#shared/money.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';

type Model = {
  balance: number;
  held: number;
  usedIds: Set<string>;
  holds: Map<number, { amount: number; open: boolean; real?: Hold }>;
};
type Real = { accountId: string; idPool: string[] };

const amount = fc.integer({ min: 1, max: 3_000 });

class Grant implements fc.AsyncCommand<Model, Real> {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  check = () => true;
  async run(model: Model, real: Real) {
    const outcome = await applyCredit({
      accountId: real.accountId,
      entryId: newUlid(),
      type: 'grant',
      amount: micros(this.value),
      at: nowIso(),
    });
    expect(outcome.status).toBe('applied');
    model.balance += this.value;
    await compare(model, real);
  }
  toString = () => `Grant(${this.value})`;
}

class Correct implements fc.AsyncCommand<Model, Real> {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  check = () => true;
  async run(model: Model, real: Real) {
    const outcome = await applyCredit({
      accountId: real.accountId,
      entryId: newUlid(),
      type: 'correction',
      amount: micros(-this.value),
      at: nowIso(),
    });
    const affordable = model.balance - model.held >= this.value;
    expect(outcome.status).toBe(affordable ? 'applied' : 'insufficient');
    if (affordable) model.balance -= this.value;
    await compare(model, real);
  }
  toString = () => `Correct(${this.value})`;
}

class Charge implements fc.AsyncCommand<Model, Real> {
  readonly value: number;
  readonly slot: number;
  constructor(value: number, slot: number) {
    this.value = value;
    this.slot = slot;
  }
  check = () => true;
  async run(model: Model, real: Real) {
    const entryId = real.idPool[this.slot]!;
    const outcome = await chargeUsage({
      accountId: real.accountId,
      entryId,
      requestId: `req_${entryId}`,
      tokenId: undefined,
      feature: 'echo',
      quantity: 1,
      cost: micros(this.value),
      at: nowIso(),
    });
    if (model.usedIds.has(entryId)) {
      expect(outcome.status).toBe('already_applied');
    } else if (model.balance - model.held >= this.value) {
      expect(outcome.status).toBe('charged');
      model.balance -= this.value;
      model.usedIds.add(entryId);
    } else {
      expect(outcome.status).toBe('insufficient');
    }
    await compare(model, real);
  }
  toString = () => `Charge(${this.value}, id#${this.slot})`;
}

class Reserve implements fc.AsyncCommand<Model, Real> {
  readonly value: number;
  readonly slot: number;
  constructor(value: number, slot: number) {
    this.value = value;
    this.slot = slot;
  }
  check = (model: Readonly<Model>) => !model.holds.has(this.slot);
  async run(model: Model, real: Real) {
    const outcome = await reserveHold({
      accountId: real.accountId,
      holdId: newUlid(),
      amount: micros(this.value),
      requestId: 'req_model',
      tokenId: undefined,
      feature: 'words',
      at: new Date(),
    });
    if (model.balance - model.held >= this.value) {
      expect(outcome.status).toBe('reserved');
      if (outcome.status === 'reserved')
        model.holds.set(this.slot, { amount: this.value, open: true, real: outcome.hold });
      model.held += this.value;
    } else {
      expect(outcome.status).toBe('insufficient');
    }
    await compare(model, real);
  }
  toString = () => `Reserve(${this.value}, hold#${this.slot})`;
}

class Settle implements fc.AsyncCommand<Model, Real> {
  readonly value: number;
  readonly slot: number;
  constructor(value: number, slot: number) {
    this.value = value;
    this.slot = slot;
  }
  check = (model: Readonly<Model>) => model.holds.has(this.slot);
  async run(model: Model, real: Real) {
    const hold = model.holds.get(this.slot)!;
    const outcome = await settleHold(hold.real!, {
      accountId: real.accountId,
      entryId: hold.real!.hold_id,
      requestId: 'req_model',
      tokenId: undefined,
      feature: 'words',
      quantity: 1,
      cost: micros(this.value),
      at: nowIso(),
    });
    const extra = Math.max(0, this.value - hold.amount);
    if (!hold.open) {
      expect(['hold_not_open', 'already_applied']).toContain(outcome.status);
    } else if (model.balance - model.held >= extra) {
      expect(outcome.status).toBe('charged');
      model.balance -= this.value;
      model.held -= hold.amount;
      hold.open = false;
    } else {
      expect(outcome.status).toBe('insufficient');
    }
    await compare(model, real);
  }
  toString = () => `Settle(${this.value}, hold#${this.slot})`;
}

class Release implements fc.AsyncCommand<Model, Real> {
  readonly slot: number;
  constructor(slot: number) {
    this.slot = slot;
  }
  check = (model: Readonly<Model>) => model.holds.has(this.slot);
  async run(model: Model, real: Real) {
    const hold = model.holds.get(this.slot)!;
    const released = await releaseHold(hold.real!, 'released', nowIso());
    expect(released).toBe(hold.open);
    if (hold.open) {
      model.held -= hold.amount;
      hold.open = false;
    }
    await compare(model, real);
  }
  toString = () => `Release(hold#${this.slot})`;
}

async function compare(model: Model, real: Real) {
  const account = await accountMoney(real.accountId);
  expect(account.balance).toBe(model.balance);
  expect(account.held).toBe(model.held);
  expect(account.available).toBe(model.balance - model.held);
  expect(account.available).toBeGreaterThanOrEqual(0);
  expect(ledgerSum(await ledgerEntries(real.accountId))).toBe(account.balance);
}

const slot = fc.integer({ min: 0, max: 4 });
const commands = [
  amount.map((v) => new Grant(v)),
  amount.map((v) => new Correct(v)),
  fc.tuple(amount, slot).map(([v, s]) => new Charge(v, s)),
  fc.tuple(amount, slot).map(([v, s]) => new Reserve(v, s)),
  fc.tuple(fc.integer({ min: 0, max: 4_000 }), slot).map(([v, s]) => new Settle(v, s)),
  slot.map((s) => new Release(s)),
];

describe('ledger model', () => {
  it('matches an in-memory model for any sequence of operations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 25 }), async (cmds) => {
        const { accountId } = await fundedAccount(0);
        const real: Real = { accountId, idPool: Array.from({ length: 5 }, () => newUlid()) };
        const model: Model = { balance: 0, held: 0, usedIds: new Set(), holds: new Map() };
        await fc.asyncModelRun(() => ({ model, real }), cmds);
      }),
      { numRuns: 40, verbose: true },
    );
  });
});

// The same model over a sharded account (issue 14 item 3): charges pick shards, rebalance, and learn a new
// count; the operator raises and lowers the count; refunds may take the total below zero, which blocks every
// shard. After every step: the shards sum to the model, no shard but the account item is below zero (and it
// only in debt), the ledger sums to the balance, and the balance is never overdrawn by usage. Holds live on
// the account item and are covered above.
type ShardedModel = { balance: number; usedIds: Set<string>; shards: number };
type ShardedReal = { accountId: string; idPool: (string | undefined)[] };

class ShardedGrant implements fc.AsyncCommand<ShardedModel, ShardedReal> {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  check = () => true;
  async run(model: ShardedModel, real: ShardedReal) {
    const outcome = await applyCredit({
      accountId: real.accountId,
      entryId: newUlid(),
      type: 'grant',
      amount: micros(this.value),
      at: nowIso(),
    });
    expect(outcome.status).toBe('applied');
    model.balance += this.value;
    await compareSharded(model, real);
  }
  toString = () => `Grant(${this.value})`;
}

class ShardedRefund implements fc.AsyncCommand<ShardedModel, ShardedReal> {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  check = () => true;
  async run(model: ShardedModel, real: ShardedReal) {
    const outcome = await applyCredit({
      accountId: real.accountId,
      entryId: newUlid(),
      type: 'refund',
      amount: micros(-this.value),
      at: nowIso(),
      allowNegative: true,
    });
    expect(outcome.status).toBe('applied');
    model.balance -= this.value;
    await compareSharded(model, real);
  }
  toString = () => `Refund(${this.value})`;
}

class ShardedCharge implements fc.AsyncCommand<ShardedModel, ShardedReal> {
  readonly value: number;
  readonly slot: number;
  /** Built on a view from before any sharding: refused as misplaced, then built again. */
  readonly stale: boolean;
  constructor(value: number, slot: number, stale: boolean) {
    this.value = value;
    this.slot = slot;
    this.stale = stale;
  }
  check = () => true;
  async run(model: ShardedModel, real: ShardedReal) {
    real.idPool[this.slot] ??= newUlid();
    const entryId = real.idPool[this.slot]!;
    const charge = async (placement: Placement | undefined) =>
      chargeOnShards({
        accountId: real.accountId,
        entryId,
        requestId: `req_${entryId}`,
        tokenId: undefined,
        feature: 'echo',
        quantity: 1,
        cost: micros(this.value),
        at: nowIso(),
        ...(placement ? { placement } : {}),
      });
    let outcome = await charge(this.stale ? undefined : (await readShards(real.accountId)).placement);
    if (outcome.status === 'wrong_mode') outcome = await charge((await readShards(real.accountId)).placement);
    if (model.usedIds.has(entryId)) {
      expect(outcome.status).toBe('already_applied');
    } else if (model.balance >= this.value) {
      expect(outcome.status).toBe('charged');
      model.balance -= this.value;
      model.usedIds.add(entryId);
    } else {
      expect(outcome.status).toBe('insufficient');
    }
    await compareSharded(model, real);
  }
  toString = () => `Charge(${this.value}, id#${this.slot}${this.stale ? ', stale' : ''})`;
}

class SetShards implements fc.AsyncCommand<ShardedModel, ShardedReal> {
  readonly count: number;
  constructor(count: number) {
    this.count = count;
  }
  check = () => true;
  async run(model: ShardedModel, real: ShardedReal) {
    await setBalanceShards(real.accountId, this.count);
    model.shards = this.count;
    await compareSharded(model, real);
  }
  toString = () => `SetShards(${this.count})`;
}

class Rebalance implements fc.AsyncCommand<ShardedModel, ShardedReal> {
  check = () => true;
  async run(model: ShardedModel, real: ShardedReal) {
    await spreadCredit(real.accountId);
    await compareSharded(model, real);
  }
  toString = () => 'Rebalance';
}

async function compareSharded(model: ShardedModel, real: ShardedReal) {
  const read = await readShards(real.accountId);
  expect(read.states).toHaveLength(model.shards);
  for (const shard of read.states.slice(1)) expect(shard.available).toBeGreaterThanOrEqual(0);
  // Only the account item carries a debt, and then every other shard is empty.
  if (read.states[0]!.available < 0) expect(read.states.slice(1).every((s) => s.available === 0)).toBe(true);
  const total = totalOf(read.states);
  expect(total.balance).toBe(model.balance);
  expect(total.available).toBe(model.balance);
  const entries = await ledgerEntries(real.accountId);
  expect(ledgerSum(entries)).toBe(model.balance);
  expect(entries).toHaveLength(total.entry_count);
  expect((await accountMoney(real.accountId)).balance).toBe(model.balance);
}

const shardedCommands = [
  amount.map((v) => new ShardedGrant(v)),
  fc.integer({ min: 1, max: 2_000 }).map((v) => new ShardedRefund(v)),
  fc.tuple(amount, slot, fc.boolean()).map(([v, s, stale]) => new ShardedCharge(v, s, stale)),
  fc.tuple(amount, slot).map(([v, s]) => new ShardedCharge(v, s, false)),
  fc.integer({ min: 1, max: 8 }).map((n) => new SetShards(n)),
  fc.constant(new Rebalance()),
];

describe('ledger model over balance shards', () => {
  it('matches an in-memory model for any sequence of charges, credits, refunds, rebalances and counts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(shardedCommands, { maxCommands: 25 }), async (cmds) => {
        const { accountId } = await fundedAccount(0);
        await setBalanceShards(accountId, 4);
        const real: ShardedReal = { accountId, idPool: Array.from({ length: 5 }, () => undefined) };
        const model: ShardedModel = { balance: 0, usedIds: new Set(), shards: 4 };
        await fc.asyncModelRun(() => ({ model, real }), cmds);
      }),
      { numRuns: 30, verbose: true },
    );
  });
});
