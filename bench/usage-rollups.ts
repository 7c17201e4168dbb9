// Usage rollups locally, on `npm start`'s stack (in memory):
//  1. usage_10y_month_ms: GET /v1/usage over ten years of month steps for an account whose 100 tokens used
//     50 features every day. The account's month and day rollups (feature items, the ones this query reads)
//     are seeded directly for the ten years; timed over HTTP, median of 20 after 3 warm-up requests.
//  2. rollup_lag_p99_ms: a charged call (POST /v1/demo/echo) until GET /v1/usage counts it, through the
//     local stack's stream poller and the usage rollup consumer; 100 rounds.
import { cpus } from 'node:os';
import { mergeResults, percentile, startBenchStack } from './results.ts';

const MONTHS = 120;
const FEATURES = 50;
const TOKENS = 100;
const COST_PER_CALL = 1000; // micro-USD
const QUERY_RUNS = 20;
const LAG_ROUNDS = 100;

const round = (value: number) => Number(value.toFixed(1));

const stack = await startBenchStack();
const { accountId, token } = stack.demo!;
const api = async (path: string, init: RequestInit = {}) => {
  const response = await fetch(`${stack.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  });
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.json() as Promise<{ data: { requests: number; cost: number }[] }>;
};

/** The month items of the 119 whole months before this one, and this month's day items up to today. */
async function seedTenYears(end: string): Promise<void> {
  const { BatchWriteCommand } = await import('@aws-sdk/lib-dynamodb');
  const { ddb } = await import('#shared/dynamo/client.ts');
  const { config } = await import('#shared/config.ts');
  const { keys } = await import('#shared/dynamo/keys.ts');
  const { rollupSortKey } = await import('#shared/usage/rollups.ts');
  const items: Record<string, unknown>[] = [];
  const rollup = (period: string, feature: string, days: number) => ({
    ...keys.usageRollup(accountId, rollupSortKey(period, feature)),
    kind: 'usage_rollup',
    period,
    feature,
    cost: TOKENS * days * COST_PER_CALL,
    requests: TOKENS * days,
  });
  const endDate = new Date(`${end}T00:00:00Z`);
  for (let back = 1; back < MONTHS; back++) {
    const first = new Date(Date.UTC(endDate.getUTCFullYear(), endDate.getUTCMonth() - back, 1));
    const days = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
    for (let f = 0; f < FEATURES; f++)
      items.push(rollup(first.toISOString().slice(0, 7), `feature_${f}`, days));
  }
  for (let day = 1; day <= endDate.getUTCDate(); day++) {
    const date = `${end.slice(0, 8)}${String(day).padStart(2, '0')}`;
    for (let f = 0; f < FEATURES; f++) items.push(rollup(date, `feature_${f}`, 1));
  }
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  for (let i = 0; i < batches.length; i += 8) {
    await Promise.all(
      batches.slice(i, i + 8).map(async (batch) => {
        let pending = batch.map((Item) => ({ PutRequest: { Item } }));
        while (pending.length > 0) {
          const answer = await ddb().send(
            new BatchWriteCommand({ RequestItems: { [config.tableName]: pending } }),
          );
          pending = (answer.UnprocessedItems?.[config.tableName] ?? []) as typeof pending;
        }
      }),
    );
  }
}

const figures: Record<string, number> = {};
try {
  // 1. Ten years of months: begin = the first day of the month ten years before this one, end = today.
  const today = new Date().toISOString().slice(0, 10);
  const begin = new Date(Date.UTC(Number(today.slice(0, 4)) - 10, Number(today.slice(5, 7)), 1))
    .toISOString()
    .slice(0, 10);
  await seedTenYears(today);
  const query = `/v1/usage?step=month&begin=${begin}&end=${today}`;
  const samples: number[] = [];
  for (let run = 0; run < QUERY_RUNS + 3; run++) {
    const started = performance.now();
    const answer = await api(query);
    if (run >= 3) samples.push(performance.now() - started);
    if (answer.data.length !== MONTHS)
      throw new Error(`expected ${MONTHS} months, got ${answer.data.length}`);
  }
  const sortedQuery = samples.sort((a, b) => a - b);
  figures.usage_10y_month_ms = round(percentile(sortedQuery, 50));
  figures.usage_10y_month_max_ms = round(sortedQuery.at(-1)!);

  // 2. Lag: a call's charge until GET /v1/usage shows it.
  const lags: number[] = [];
  const todayQuery = `/v1/usage?step=day&begin=${today}&end=${today}`;
  let counted = (await api(todayQuery)).data[0]!.requests;
  for (let round = 0; round < LAG_ROUNDS; round++) {
    await api('/v1/demo/echo', { method: 'POST', body: JSON.stringify({ text: 'lag' }) });
    const charged = performance.now();
    for (;;) {
      const requests = (await api(todayQuery)).data[0]!.requests;
      if (requests > counted) {
        counted = requests;
        break;
      }
      if (performance.now() - charged > 10_000)
        throw new Error('a call was not in GET /v1/usage within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    lags.push(performance.now() - charged);
  }
  const sortedLags = lags.sort((a, b) => a - b);
  figures.rollup_lag_p50_ms = round(percentile(sortedLags, 50));
  figures.rollup_lag_p99_ms = round(percentile(sortedLags, 99));
  figures.rollup_lag_rounds = LAG_ROUNDS;
} finally {
  await stack.stop();
}

console.table(figures);
console.log(
  `usage_10y_month_ms ${figures.usage_10y_month_ms} (target < 1000): ${figures.usage_10y_month_ms! < 1000 ? 'ok' : 'FAIL'}; ` +
    `rollup_lag_p99_ms ${figures.rollup_lag_p99_ms} (target < 2000): ${figures.rollup_lag_p99_ms! < 2000 ? 'ok' : 'FAIL'}`,
);
mergeResults('usage', { ...figures, measured_at: new Date().toISOString(), cpus: cpus().length });
