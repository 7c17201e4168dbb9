import { fileURLToPath } from 'node:url';
import { createTable, startDynamoLocal } from '../local/dynamo-local.ts';
import { mergeResults } from './results.ts';

const _root = fileURLToPath(new URL('..', import.meta.url));
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
  mergeResults('sweep', figures);
} finally {
  await dynamo.stop();
}
