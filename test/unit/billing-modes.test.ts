// The billing-mode interface: what each mode contributes to a charge, table by table. Pure: no DynamoDB (the
// writes are proven against DynamoDB Local by test/integration/billing-modes.test.ts, holds.test.ts and
// ledger-model.test.ts, which go through these modes).
import { describe, expect, it } from 'vitest';
import {
  type Billing,
  modeNamed,
  modeOfCharge,
  modeOfEntry,
  modeOfHold,
} from '#shared/billing-modes/mode.ts';
import type { UsageCharge } from '#shared/ledger/ledger.ts';
import type { Hold, LedgerEntry } from '#shared/ledger/types.ts';
import type { Micros } from '#shared/money.ts';

const at = '2027-03-31T23:59:59.000Z';
const charge = (billing?: Billing): UsageCharge => ({
  accountId: 'acct_1',
  entryId: '01JZ0000000000000000000000',
  requestId: 'req_1',
  tokenId: 'tok_1',
  feature: 'echo',
  quantity: 1,
  cost: 2000 as Micros,
  at,
  ...(billing ? { billing } : {}),
});
const postpaidBilling: Billing = { mode: 'postpaid', period: '2027-03', rollover: false };
const marketplaceBilling: Billing = { mode: 'marketplace', dimension: 'requests' };
const cases = [
  { name: 'prepaid', billing: undefined },
  { name: 'postpaid', billing: postpaidBilling },
  { name: 'marketplace', billing: marketplaceBilling },
] as const;

const entry = (fields: Partial<LedgerEntry>): LedgerEntry => ({
  entry_id: 'e1',
  account_id: 'acct_1',
  type: 'usage',
  amount: 0 as Micros,
  created_at: at,
  ...fields,
});

describe('the mode of a charge, a hold, an entry', () => {
  it.each(cases)('$name: a charge is in the mode its billing names', ({ name, billing }) => {
    expect(modeOfCharge(charge(billing)).name).toBe(name);
  });

  it('no mode named is prepaid, the mode every account starts in', () => {
    expect(modeNamed(undefined).name).toBe('prepaid');
    expect(modeNamed('prepaid').name).toBe('prepaid');
  });

  it('a hold is in the mode it recorded (prepaid holds record none)', () => {
    const hold = { hold_id: 'h', account_id: 'a', amount: 5 as Micros } as Hold;
    expect(modeOfHold(hold).name).toBe('prepaid');
    expect(modeOfHold({ ...hold, ...modeNamed('postpaid').holdFields(postpaidBilling as never) }).name).toBe(
      'postpaid',
    );
  });

  it('an accrued entry written before entries named their mode is in the account mode: postpaid unless a buyer', () => {
    const legacy = entry({ accrued: 2000 as Micros });
    expect(modeOfEntry(legacy, 'marketplace').name).toBe('marketplace');
    expect(modeOfEntry(legacy, 'postpaid').name).toBe('postpaid');
    // The account has become prepaid since: the entry still accrued, it never debited the balance.
    expect(modeOfEntry(legacy, 'prepaid').name).toBe('postpaid');
    expect(modeOfEntry(entry({ amount: -2000 as Micros }), 'postpaid').name).toBe('prepaid');
    expect(modeOfEntry(entry({ accrued: 1 as Micros, billing_mode: 'marketplace' }), 'postpaid').name).toBe(
      'marketplace',
    );
  });
});

describe("the entry's money", () => {
  it.each(cases)('$name: a charge and its reversal sum to nothing', ({ billing }) => {
    const mode = modeOfCharge(charge(billing));
    const used = mode.entryMoney(billing as never, 2000 as Micros);
    const back = mode.entryMoney(billing as never, -2000 as Micros);
    expect(used.amount + back.amount).toBe(0);
    expect((used.accrued ?? 0) + (back.accrued ?? 0)).toBe(0);
    expect(back.billing_mode).toBe(used.billing_mode);
  });

  it('prepaid debits the balance; the others change no balance and accrue, naming where they are billed', () => {
    expect(modeNamed('prepaid').entryMoney(undefined as never, 2000 as Micros)).toEqual({ amount: -2000 });
    expect(modeNamed('postpaid').entryMoney(postpaidBilling as never, 2000 as Micros)).toEqual({
      amount: 0,
      accrued: 2000,
      billing_mode: 'postpaid',
    });
    expect(modeNamed('marketplace').entryMoney(marketplaceBilling as never, 2000 as Micros)).toEqual({
      amount: 0,
      accrued: 2000,
      billing_mode: 'marketplace',
      dimension: 'requests',
    });
  });

  it.each(cases)(
    '$name: the billing rebuilt from the entry books the same money (a retry reverses what was booked)',
    ({ billing }) => {
      const mode = modeOfCharge(charge(billing));
      const booked = entry(mode.entryMoney(billing as never, 2000 as Micros));
      const rebuilt = modeOfEntry(booked, undefined).billingOfEntry(booked);
      expect(modeOfCharge({ billing: rebuilt }).entryMoney(rebuilt as never, 2000 as Micros)).toEqual(
        mode.entryMoney(billing as never, 2000 as Micros),
      );
    },
  );
});

describe('refusals: what a failed account condition means', () => {
  const postpaid = modeNamed('postpaid');
  it.each([
    { account: { period: '2027-03', spend_limit: 100 }, expected: { status: 'spend_limit' } },
    {
      account: { period: '2027-03', overdue_block_at: '2027-03-01T00:00:00.000Z' },
      expected: { status: 'invoice_overdue' },
    },
    // Blocked only from its time on: before it, the limit is what refused.
    {
      account: { period: '2027-03', overdue_block_at: '2027-04-02T00:00:00.000Z' },
      expected: { status: 'spend_limit' },
    },
    { account: { period: '2027-04' }, expected: { status: 'period_moved', accountPeriod: '2027-04' } },
  ])('postpaid, account $account → $expected.status', ({ account, expected }) => {
    expect(postpaid.refusal(postpaidBilling as never, account, at)).toEqual(expected);
  });

  it('postpaid: a rollover charge (the account holds an older period) is refused by the limit, or by a newer period', () => {
    const rollover = { mode: 'postpaid', period: '2027-03', rollover: true } as never;
    expect(postpaid.refusal(rollover, { period: '2027-02' }, at)).toEqual({ status: 'spend_limit' });
    expect(postpaid.refusal(rollover, { period: '2027-03' }, at)).toEqual({
      status: 'period_moved',
      accountPeriod: '2027-03',
    });
  });

  it('prepaid: insufficient, with the money the account holds; marketplace: the subscription', () => {
    expect(
      modeNamed('prepaid').refusal(
        undefined as never,
        { balance: 5, held: 0, available: 5, billing_mode: 'prepaid' },
        at,
      ),
    ).toMatchObject({ status: 'insufficient', account: { available: 5, auto_refill_active: false } });
    expect(modeNamed('marketplace').refusal(marketplaceBilling as never, {}, at)).toEqual({
      status: 'subscription_inactive',
    });
  });

  it('postpaid: a period that moved on is retried inside the account period, never before it', () => {
    const late = postpaid.retryAt(charge(postpaidBilling), postpaidBilling as never, {
      status: 'period_moved',
      accountPeriod: '2027-04',
    });
    expect(late! >= '2027-04-01T00:00:00.000Z').toBe(true);
    const older = postpaid.retryAt(charge(postpaidBilling), postpaidBilling as never, {
      status: 'period_moved',
      accountPeriod: '2027-02',
    });
    expect(older).toBe(at);
    expect(
      postpaid.retryAt(charge(postpaidBilling), postpaidBilling as never, { status: 'spend_limit' }),
    ).toBe(undefined);
  });
});

describe('holds', () => {
  it('marketplace buyers hold nothing (their call is admitted by reading the subscription)', () => {
    const request = { accountId: 'a', amount: 5 as Micros, at };
    expect(modeNamed('marketplace').accountReserve(request, marketplaceBilling as never)).toBeUndefined();
    expect(modeNamed('prepaid').accountReserve(request, undefined as never)).toBeDefined();
    expect(modeNamed('postpaid').accountReserve(request, postpaidBilling as never)).toBeDefined();
  });

  it('postpaid: a settle in the hold period gives the estimate back to the headroom; in a later period it does not', () => {
    const hold = { hold_id: 'h', account_id: 'acct_1', amount: 500 as Micros, period: '2027-03' } as Hold;
    const same = postpaidWrite(charge(postpaidBilling), hold);
    expect(same.ExpressionAttributeValues[':extra']).toBe(1500);
    const later = { mode: 'postpaid', period: '2027-04', rollover: true } as const;
    const moved = postpaidWrite(charge(later), hold);
    // The new period opens with the whole cost, admitted: neither the limit nor an overdue block refuses it.
    expect(moved.ExpressionAttributeValues[':cost']).toBe(2000);
    expect(moved.ConditionExpression).not.toContain('spend_limit >=');
    expect(moved.ConditionExpression).not.toContain('overdue_block_at');
  });
});

function postpaidWrite(
  c: UsageCharge,
  hold: Hold,
): { ExpressionAttributeValues: Record<string, unknown>; ConditionExpression: string } {
  const item = modeNamed('postpaid').accountCharge(c, c.billing as never, hold);
  return item.Update as never;
}

describe('the rollup each mode bills its accrued usage from', () => {
  it('prepaid keeps none: its entries moved the balance', () => {
    expect(modeNamed('prepaid').accrual).toBeUndefined();
  });

  it('postpaid: the period of the time given, then the next month across a year end, one line per feature', () => {
    const rollup = modeNamed('postpaid').accrual!;
    const bucket = rollup.bucketOf(entry({ account_id: 'acct_9' }), '2027-12-31T23:59:59.999Z');
    expect(bucket).toEqual({ mode: 'postpaid', accountId: 'acct_9', period: '2027-12' });
    expect(rollup.next(bucket)).toEqual({ mode: 'postpaid', accountId: 'acct_9', period: '2028-01' });
    expect(rollup.id(bucket)).toBe('acct_9 PERIOD#2027-12');
    expect(rollup.linesPerFeature).toBe(true);
  });

  it('marketplace: the hour and dimension, then the next hour across midnight; no feature lines', () => {
    const rollup = modeNamed('marketplace').accrual!;
    const bucket = rollup.bucketOf(entry({ dimension: 'tokens' }), '2027-03-31T23:59:59.000Z');
    expect(bucket).toEqual({
      mode: 'marketplace',
      accountId: 'acct_1',
      hour: '2027-03-31T23:00:00Z',
      dimension: 'tokens',
    });
    expect(rollup.next(bucket)).toMatchObject({ hour: '2027-04-01T00:00:00Z', dimension: 'tokens' });
    expect(rollup.id(bucket)).toBe('acct_1 MKT_HOUR#2027-03-31T23:00:00Z#tokens');
    expect(rollup.linesPerFeature).toBe(false);
  });
});
