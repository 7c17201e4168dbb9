// The reversal plan of a fixed-price charge: which items it undoes, per billing mode and per what is still
// open. Pure: no DynamoDB (the execution is proven in test/integration/charge-first.test.ts).
import { describe, expect, it } from 'vitest';
import { keys } from '#shared/dynamo/keys.ts';
import type { UsageCharge } from '#shared/ledger/ledger.ts';
import { planReversal, reversalIdOf } from '#shared/ledger/reversal.ts';
import type { Micros } from '#shared/money.ts';

const base: UsageCharge = {
  accountId: 'acct_1',
  entryId: '01JZ0000000000000000000000',
  requestId: 'req_01JZ0000000000000000000000',
  tokenId: 'tok_1',
  feature: 'echo',
  quantity: 1,
  cost: 2000 as Micros,
  at: '2027-03-31T23:59:59.000Z',
};
const postpaid: UsageCharge = { ...base, billing: { mode: 'postpaid', period: '2027-03', rollover: false } };
const marketplace: UsageCharge = { ...base, billing: { mode: 'marketplace', dimension: 'usage' } };
const open = { periodOpen: true };

/** The SK of every item the plan writes, in order. */
function targets(charge: UsageCharge, scope = open): string[] {
  return planReversal(charge, '2027-04-01T00:00:01.000Z', scope).items.map((item) => {
    const write = item.Update ?? item.ConditionCheck ?? item.Put;
    return String((write as { Key?: { SK: string }; Item?: { SK: string } }).Key?.SK ?? item.Put?.Item?.SK);
  });
}

describe('planReversal', () => {
  it('prepaid: credits the balance, writes the reversal entry (dated to its charge for the usage rollups), proves the charge', () => {
    const plan = planReversal(base, '2027-04-01T00:00:01.000Z', open);
    expect(targets(base)).toEqual([
      'ACCOUNT',
      `LEDGER#${reversalIdOf(base.entryId)}`,
      `LEDGER#${base.entryId}`,
    ]);
    expect(plan.entry).toMatchObject({
      type: 'reversal',
      amount: 2000,
      reverses: base.entryId,
      reverses_at: '2027-03-31T23:59:59.000Z',
      request_id: base.requestId,
    });
    expect(plan.items[0]!.Update!.UpdateExpression).toContain('balance = balance + :cost');
  });

  it('with an Idempotency-Key: the guard is the proof, and is marked reversed', () => {
    const keyed = { ...base, guard: { reference: 'idem:acct_1:abc' } };
    const proof = planReversal(keyed, '2027-04-01T00:00:01.000Z', open).items[2]!.Update!;
    expect(proof.Key).toEqual(keys.reference('acct_1', 'idem:acct_1:abc'));
    expect(proof.ConditionExpression).toBe('entry_id = :charge');
    expect(proof.UpdateExpression).toBe('SET reversed_by = :reversal');
  });

  it.each([
    [
      'postpaid, period still the account’s',
      postpaid,
      open,
      'period_usage = period_usage - :cost',
      { billing_mode: 'postpaid' },
    ],
    [
      'postpaid, period moved on',
      postpaid,
      { periodOpen: false },
      'SET updated_at = :at ADD entry_count :one, accrual_entries :one',
      { billing_mode: 'postpaid' },
    ],
    [
      'marketplace',
      marketplace,
      open,
      'SET updated_at = :at ADD entry_count :one, accrual_entries :one',
      { billing_mode: 'marketplace', dimension: 'usage' },
    ],
  ])(
    '%s: the account write and the entry; its period item or hour record follows the entry',
    (_name, charge, scope, accountWrite, billing) => {
      const plan = planReversal(charge, '2027-04-01T00:00:01.000Z', scope);
      expect(plan.entry).toMatchObject({ amount: 0, accrued: -2000, ...billing });
      expect(plan.items[0]!.Update!.UpdateExpression).toContain(accountWrite);
      expect(plan.items[0]!.Update!.UpdateExpression).toContain('accrual_entries :one');
      expect(targets(charge, scope)).toEqual([
        'ACCOUNT',
        `LEDGER#${reversalIdOf(base.entryId)}`,
        `LEDGER#${base.entryId}`,
      ]);
    },
  );
});
