// The sweep never scans: with 10,000 accounts with auto-refill on of which 5 are below their threshold, it
// reads about 5 items, not 10,000.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTable } from '../../local/dynamo-local.ts';
import { measureSweepCost } from '../support/sweep-cost.ts';

describe('the auto-refill sweep', () => {
  it('reads only the due accounts, whatever the number of accounts', async () => {
    const table = `sweep-${randomUUID().slice(0, 8)}`;
    await createTable(process.env.DYNAMODB_ENDPOINT!, table);
    process.env.TABLE_NAME = table;

    const cost = await measureSweepCost(table, 10_000, 5);

    expect(cost.due).toBe(5);
    // 5 index entries, and each due account's claim (a conditional write, not a read).
    expect(cost.itemsRead).toBeLessThanOrEqual(10);
  });
});
