// Model-based test of the ledger against DynamoDB Local: random sequences of grants, corrections, charges
// (with repeated request ids), holds, settlements and releases, compared after every step with a plain
// in-memory model. Invariants 1-4: never below zero by usage, each id moves money once, balance = sum of
// the ledger, held = sum of open holds. fast-check prints the seed and the shrunk sequence on failure.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nowIso } from '#shared/clock.ts';
import { newUlid } from '#shared/ids.ts';
import { applyCredit, chargeUsage, releaseHold, reserveHold, settleHold } from '#shared/ledger/ledger.ts';
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
