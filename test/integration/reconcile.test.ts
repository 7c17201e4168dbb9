// Invariant 3 checked from outside: the reconciliation job finds no drift after real traffic, and finds
// the account whose balance was changed without a ledger entry; from checkpoints, reading only new entries.
import { randomUUID } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { ulidFrom } from '#shared/ids.ts';
import { applyCredit } from '#shared/ledger/ledger.ts';
import { reconcileAccount, reconcileAll } from '#shared/ledger/reconcile.ts';
import type { Micros } from '#shared/money.ts';
import { createTable } from '../../local/dynamo-local.ts';
import { fundedAccount } from '../support/accounts.ts';
import { call } from '../support/api.ts';

describe('reconciliation', () => {
  it('reports only the account whose balance does not match its ledger', async () => {
    const healthy = await fundedAccount(1);
    await call('POST', '/v1/demo/echo', { token: healthy.token, body: { text: 'a' } });
    await call('POST', '/v1/demo/words', { token: healthy.token, body: { text: 'a b' } });
    const tampered = await fundedAccount(1);
    await ddb().send(
      new UpdateCommand({
        TableName: process.env.TABLE_NAME,
        Key: keys.account(tampered.accountId),
        UpdateExpression: 'SET balance = balance + :x',
        ExpressionAttributeValues: { ':x': 1 },
      }),
    );

    const report = await reconcileAll();

    const drifted = report.drifted.map((d) => d.account_id);
    expect(drifted).toContain(tampered.accountId);
    expect(drifted).not.toContain(healthy.accountId);
    expect(report.drifted.find((d) => d.account_id === tampered.accountId)).toMatchObject({
      balance: 1_000_001,
      ledger_sum: 1_000_000,
    });
  });
});

describe('incremental reconciliation', () => {
  // A table of its own: the walk over all accounts must see only this test's accounts.
  const sharedTable = process.env.TABLE_NAME;
  beforeAll(async () => {
    const name = `reconcile-${randomUUID().slice(0, 8)}`;
    await createTable(process.env.DYNAMODB_ENDPOINT!, name);
    process.env.TABLE_NAME = name;
  });
  afterAll(() => {
    process.env.TABLE_NAME = sharedTable;
  });

  const charge = (token: string) => call('POST', '/v1/demo/echo', { token, body: { text: 'a' } });

  it('reads each ledger entry once: a second run reads only the entries added since', async () => {
    const { accountId, token } = await fundedAccount(1);
    for (let i = 0; i < 3; i++) expect((await charge(token)).status).toBe(200);

    const first = await reconcileAccount(accountId);
    const second = await reconcileAccount(accountId);
    await charge(token);
    await charge(token);
    const third = await reconcileAccount(accountId);

    expect([first.read, second.read, third.read]).toEqual([4, 0, 2]);
    expect([first.drift, second.drift, third.drift]).toEqual([undefined, undefined, undefined]);
  });

  it('finds a balance changed without a ledger entry after the checkpoint, reading nothing again', async () => {
    const { accountId, token } = await fundedAccount(1);
    await charge(token);
    await reconcileAccount(accountId);
    await ddb().send(
      new UpdateCommand({
        TableName: process.env.TABLE_NAME,
        Key: keys.account(accountId),
        UpdateExpression: 'SET balance = balance + :x',
        ExpressionAttributeValues: { ':x': 5 },
      }),
    );

    const check = await reconcileAccount(accountId);

    expect(check.read).toBe(0);
    expect(check.drift).toEqual({
      account_id: accountId,
      balance: 998_005,
      ledger_sum: 998_000,
      held: 0,
      open_holds: 0,
    });
  });

  it('counts an entry written below the checkpoint (a retried request keeps its old id) by summing again', async () => {
    const { accountId, token } = await fundedAccount(1);
    await charge(token);
    await reconcileAccount(accountId);
    const outcome = await applyCredit({
      accountId,
      entryId: ulidFrom(Date.parse('2020-01-01T00:00:00Z'), new Uint8Array(10)),
      type: 'grant',
      amount: 7 as Micros,
      at: new Date().toISOString(),
    });
    expect(outcome.status).toBe('applied');

    const check = await reconcileAccount(accountId);
    const after = await reconcileAccount(accountId);

    expect(check.drift).toBeUndefined();
    expect(check.read).toBe(3);
    expect(after.read).toBe(0);
  });

  it('stops when its time runs low and the next run resumes where it stopped', async () => {
    const tampered: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { accountId } = await fundedAccount(1);
      if (i % 2 === 0) {
        await ddb().send(
          new UpdateCommand({
            TableName: process.env.TABLE_NAME,
            Key: keys.account(accountId),
            UpdateExpression: 'SET balance = balance + :x',
            ExpressionAttributeValues: { ':x': 1 },
          }),
        );
        tampered.push(accountId);
      }
    }
    const total = (await reconcileAll()).accounts;
    // Time for one page of the walk (20 items: a few accounts), then none.
    let pages = 0;

    const stopped = await reconcileAll({
      segments: 1,
      pageLimit: 20,
      remainingMs: () => (pages++ < 1 ? 600_000 : 0),
    });
    const resumed = await reconcileAll({ segments: 1, pageLimit: 20 });

    expect(stopped.complete).toBe(false);
    expect(stopped.accounts).toBeGreaterThan(0);
    expect(resumed.complete).toBe(true);
    expect(stopped.accounts + resumed.accounts).toBe(total);
    expect([...stopped.drifted, ...resumed.drifted].map((d) => d.account_id).sort()).toEqual(
      expect.arrayContaining(tampered.sort()),
    );
    expect(resumed.items_read + stopped.items_read).toBe(0);
  });
});
