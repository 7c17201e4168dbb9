// Invariant 3 checked from outside: the reconciliation job finds no drift after real traffic, and finds
// the account whose balance was changed without a ledger entry.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { reconcileAll } from '#shared/ledger/reconcile.ts';
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
