// Model-based test of postpaid accrual against DynamoDB Local: random sequences of fixed and per-unit calls,
// spend-limit changes (set, lower, remove) and month changes, through the real handlers, compared after
// every step with a plain model: a call passes exactly when the limit allows it (its hold's estimate for a
// per-unit call), usage only grows by what passed, the period's item (rolled up from the ledger by the
// stream consumer, driven before each comparison) sums to the account's usage, and the balance never moves. fast-check prints the seed and the shrunk sequence on failure.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { setBillingMode } from '#shared/accounts/billing-mode.ts';
import { clearViews } from '#shared/accounts/view.ts';
import { resetClock, setClock } from '#shared/clock.ts';
import { estimateWords } from '#shared/demo/words.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { accountMoney, fundedAccount } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { rollUpRecordedUsage } from '../support/stream.ts';

const ECHO = 2_000;
const WORD = 100;

type Model = { month: number; usage: Map<number, number>; limit: number | null };
type Real = { accountId: string; token: string };

function periodOf(month: number): string {
  const date = new Date(Date.UTC(2031, month, 1));
  return date.toISOString().slice(0, 7);
}

function usageOf(model: Model): number {
  return model.usage.get(model.month) ?? 0;
}

async function compare(model: Model, real: Real) {
  const account = await accountMoney(real.accountId);
  expect(account.balance).toBe(0);
  expect(account.held).toBe(0);
  const period = periodOf(model.month);
  if (account.period === period) expect(account.period_usage).toBe(usageOf(model));
  if (model.limit !== null && account.period === period) {
    expect(account.period_headroom).toBe(model.limit - usageOf(model));
  }
  await rollUpRecordedUsage();
  const item = (
    await ddb().send(
      new GetCommand({
        TableName: process.env.TABLE_NAME,
        Key: keys.period(real.accountId, period),
        ConsistentRead: true,
      }),
    )
  ).Item;
  expect(Number(item?.cost ?? 0)).toBe(usageOf(model));
}

class Echo implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(model: Model, real: Real) {
    const answer = await call('POST', '/v1/demo/echo', { token: real.token, body: { text: 'x' } });
    const allowed = model.limit === null || model.limit - usageOf(model) >= ECHO;
    expect(answer.status).toBe(allowed ? 200 : 402);
    if (allowed) model.usage.set(model.month, usageOf(model) + ECHO);
    else expect(answer.body.code).toBe('spend_limit_reached');
    await compare(model, real);
  }
  toString = () => 'Echo';
}

class Words implements fc.AsyncCommand<Model, Real> {
  readonly words: number;
  /** Instead of `words`: as many words as the headroom allows, plus this (-1, 0 or 1), when a limit is set. */
  readonly toLimit: number | undefined;
  constructor(words: number, toLimit?: number) {
    this.words = words;
    this.toLimit = toLimit;
  }
  check = () => true;
  async run(model: Model, real: Real) {
    const words =
      this.toLimit !== undefined && model.limit !== null
        ? Math.min(60, Math.max(1, Math.floor((model.limit - usageOf(model)) / WORD) + this.toLimit))
        : this.words;
    const text = Array.from({ length: words }, () => 'w').join(' ');
    const answer = await call('POST', '/v1/demo/words', { token: real.token, body: { text } });
    // The estimate is held against the headroom before the feature runs.
    const allowed = model.limit === null || model.limit - usageOf(model) >= estimateWords(text) * WORD;
    expect(answer.status).toBe(allowed ? 200 : 402);
    if (allowed) model.usage.set(model.month, usageOf(model) + words * WORD);
    await compare(model, real);
  }
  toString = () => (this.toLimit === undefined ? `Words(${this.words})` : `WordsToLimit(${this.toLimit})`);
}

/** Sets the limit relative to the usage so far (`null` removes it): boundaries are hit exactly, often. */
class SetLimit implements fc.AsyncCommand<Model, Real> {
  readonly aboveUsage: number | null;
  constructor(aboveUsage: number | null) {
    this.aboveUsage = aboveUsage;
  }
  check = () => true;
  async run(model: Model, real: Real) {
    const limit = this.aboveUsage === null ? null : Math.max(0, usageOf(model) + this.aboveUsage);
    const answer = await call('PUT', '/v1/billing/spend-limit', {
      token: real.token,
      body: { monthly_spend_limit: limit === null ? null : limit / 1_000_000 },
    });
    expect(answer.status).toBe(200);
    model.limit = limit;
    await compare(model, real);
  }
  toString = () => `SetLimit(usage + ${this.aboveUsage})`;
}

class NextMonth implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(model: Model, real: Real) {
    model.month += 1;
    setClock(new Date(Date.UTC(2031, model.month, 1, 0, 0, 0)));
    await compare(model, real);
  }
  toString = () => 'NextMonth';
}

const commands = [
  fc.constant(new Echo()),
  fc.constant(new Echo()),
  fc.integer({ min: 1, max: 12 }).map((words) => new Words(words)),
  fc.integer({ min: -1, max: 1 }).map((toLimit) => new Words(1, toLimit)),
  // Limits a few calls above the usage, exactly at it, or below it (lowered under the usage).
  fc
    .oneof(
      fc.constant(null),
      fc.integer({ min: 0, max: 4 }).map((k) => k * ECHO),
      fc.integer({ min: -20, max: 40 }).map((k) => k * WORD),
    )
    .map((aboveUsage) => new SetLimit(aboveUsage)),
  fc.constant(new NextMonth()),
];

afterEach(() => {
  resetClock();
  clearViews();
});

describe('postpaid model', () => {
  it('admits exactly what the spend limit allows, for any sequence of calls, limit changes and months', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 25, size: '+1' }), async (cmds) => {
        setClock(new Date(Date.UTC(2031, 0, 15)));
        clearViews();
        const { accountId, token } = await fundedAccount(0);
        await setBillingMode(accountId, 'postpaid');
        const model: Model = { month: 0, usage: new Map(), limit: null };
        await fc.asyncModelRun(() => ({ model, real: { accountId, token } }), cmds);
      }),
      { numRuns: 30, verbose: true },
    );
  });
});
