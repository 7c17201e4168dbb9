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
const marketplace: UsageCharge = {
  ...base,
  billing: { mode: 'marketplace', hour: '2027-03-31T23:00:00Z', dimension: 'usage' },
};
const open = { periodOpen: true, bucketOpen: true };

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
      'postpaid, period and item open',
      postpaid,
      open,
      'period_usage = period_usage - :cost',
      'PERIOD#2027-03',
    ],
    [
      'postpaid, period moved on',
      postpaid,
      { periodOpen: false, bucketOpen: true },
      'SET updated_at = :at ADD entry_count :one',
      'PERIOD#2027-03',
    ],
    [
      'postpaid, period item invoiced',
      postpaid,
      { periodOpen: false, bucketOpen: false },
      'SET updated_at = :at ADD entry_count :one',
      undefined,
    ],
    [
      'marketplace, hour pending',
      marketplace,
      open,
      'SET updated_at = :at ADD entry_count :one',
      'MKT_HOUR#2027-03-31T23:00:00Z#usage',
    ],
    [
      'marketplace, hour claimed',
      marketplace,
      { periodOpen: true, bucketOpen: false },
      'SET updated_at = :at ADD entry_count :one',
      undefined,
    ],
  ])('%s', (_name, charge, scope, accountWrite, bucket) => {
    const plan = planReversal(charge, '2027-04-01T00:00:01.000Z', scope);
    expect(plan.entry).toMatchObject({ amount: 0, accrued: -2000 });
    expect(plan.items[0]!.Update!.UpdateExpression).toContain(accountWrite);
    expect(targets(charge, scope)[3]).toBe(bucket);
    if (bucket)
      expect(plan.items[3]!.Update!.ExpressionAttributeValues).toMatchObject({ ':cost': -2000, ':one': -1 });
  });
});
