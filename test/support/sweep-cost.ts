// The auto-refill sweep's read cost: a table of `accounts` accounts, all with auto-refill on (listed in the
// sweep's index), of which `due` are below their threshold, and the number of items the sweep reads (summed
// from every Query's ScannedCount through SDK middleware).
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { sweepDueRefills } from '#shared/auto-refill/sweep.ts';
import { createDocumentClient, setDocumentClient } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';

export async function measureSweepCost(tableName: string, accounts: number, due: number) {
  const client = createDocumentClient(process.env.DYNAMODB_ENDPOINT);
  let itemsRead = 0;
  let requests = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      requests++;
      const output = result.output as { ScannedCount?: number; Item?: unknown };
      itemsRead += output.ScannedCount ?? (output.Item ? 1 : 0);
      return result;
    },
    { step: 'initialize', name: 'countItemsRead' },
  );
  const items = Array.from({ length: accounts }, (_, i) => {
    const accountId = `acct_SWEEP${String(i).padStart(21, '0')}`;
    return {
      ...keys.account(accountId),
      kind: 'account',
      account_id: accountId,
      balance: 0,
      held: 0,
      available: 0,
      billing_mode: 'prepaid',
      ...keys.refillListing(accountId),
      refill_headroom: i < due ? -1_000_000 : 1_000_000,
    };
  });
  const batches = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  const writer = createDocumentClient(process.env.DYNAMODB_ENDPOINT);
  for (let i = 0; i < batches.length; i += 16) {
    await Promise.all(
      batches.slice(i, i + 16).map((batch) =>
        writer.send(
          new BatchWriteCommand({
            RequestItems: { [tableName]: batch.map((Item) => ({ PutRequest: { Item } })) },
          }),
        ),
      ),
    );
  }
  setDocumentClient(client);
  const started = performance.now();
  try {
    const report = await sweepDueRefills();
    return { itemsRead, requests, ms: performance.now() - started, due: report.due };
  } finally {
    setDocumentClient(undefined);
  }
}
