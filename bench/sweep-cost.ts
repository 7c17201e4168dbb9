// The auto-refill sweep's cost with 10,000 accounts of which 5 are due: items read and time, on a fresh
// DynamoDB Local. It must stay near the number of due accounts, never the number of accounts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTable, startDynamoLocal } from '../local/dynamo-local.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const dynamo = await startDynamoLocal();
const table = 'credits-sweep-bench';
Object.assign(process.env, {
  TABLE_NAME: table,
  DYNAMODB_ENDPOINT: dynamo.endpoint,
  LOCAL_MODE: 'true',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
});
try {
  await createTable(dynamo.endpoint, table);
  const { measureSweepCost } = await import('../test/support/sweep-cost.ts');
  const cost = await measureSweepCost(table, 10_000, 5);
  const figures = {
    sweep_accounts: 10_000,
    sweep_due: cost.due,
    sweep_items_read: cost.itemsRead,
    sweep_requests: cost.requests,
    sweep_ms: Number(cost.ms.toFixed(1)),
  };
  console.table(figures);
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const latestPath = join(resultsDir, 'latest.json');
  let latest: Record<string, unknown> = {};
  try {
    latest = JSON.parse(readFileSync(latestPath, 'utf8')) as Record<string, unknown>;
  } catch {
    // no earlier figures
  }
  writeFileSync(latestPath, `${JSON.stringify({ ...latest, sweep: figures }, null, 2)}\n`);
} finally {
  await dynamo.stop();
}
