// `npm run bench:rate` (and part of `npm run bench`): what a rate-limited call costs, `rate_limited_refusal_p50_ms`
// (target ≤ 0.2 ms): POST /v1/demo/echo through the real handler stack, in-process with a real API Gateway v2
// event, with a token whose bucket is empty (RATE_LIMIT_RPS=0.001, RATE_LIMIT_BURST=1: the first call is let
// through and warms the token cache, every later one is a 429). Each refusal is timed alone; every DynamoDB
// HTTP request sent while they run is counted (target: none), and the balance is checked unchanged.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Context } from 'aws-lambda';
import type { ApiEvent, ApiResult } from '#shared/http/api.ts';
import { createTable, startDynamoLocal } from '../local/dynamo-local.ts';
import { mergeResults, percentile } from './results.ts';

const WARMUP = 2_000;
const N = 20_000;
const TARGET_MS = 0.2;
const TABLE = 'credits-bench-rate';

Object.assign(process.env, {
  TABLE_NAME: TABLE,
  LOCAL_MODE: 'true',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  RATE_LIMIT_RPS: '0.001',
  RATE_LIMIT_BURST: '1',
});
(globalThis as { __localEvents?: unknown[] }).__localEvents = [];

const round = (value: number, places = 4) => Number(value.toFixed(places));

const dynamo = await startDynamoLocal();
process.env.DYNAMODB_ENDPOINT = dynamo.endpoint;
try {
  await createTable(dynamo.endpoint, TABLE);
  const { ddb } = await import('#shared/dynamo/client.ts');
  const { apiEvent, lambdaContext } = await import('../test/support/api.ts');
  const { fundedAccount, accountMoney } = await import('../test/support/accounts.ts');
  type Handler = (event: ApiEvent, context: Context) => Promise<ApiResult>;
  const echo = (await import('#functions/demo/echo.ts')).handler as unknown as Handler;

  const payer = await fundedAccount(1, 'Bench rate-limited account');
  const call = () =>
    echo(apiEvent('POST', '/v1/demo/echo', { token: payer.token, body: { text: 'hi' } }), lambdaContext());
  const first = await call();
  if (first.statusCode !== 200) throw new Error(`the first call answered ${first.statusCode} ${first.body}`);
  const balance = (await accountMoney(payer.accountId)).balance;

  // Every HTTP request the project sends to DynamoDB from here on (inside the SDK's retry loop).
  let requests = 0;
  ddb().middlewareStack.add(
    (next) => async (args) => {
      requests++;
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'benchCountRequests' },
  );

  const samples: number[] = [];
  let refused = 0;
  for (let i = 0; i < WARMUP + N; i++) {
    const started = performance.now();
    const result = await call();
    const elapsed = performance.now() - started;
    if (result.statusCode !== 429 || result.headers['retry-after'] === undefined) {
      throw new Error(`expected a 429 with retry-after, got ${result.statusCode} ${result.body}`);
    }
    refused++;
    if (i >= WARMUP) samples.push(elapsed);
  }
  const requestsDuring = requests;
  const unchanged = (await accountMoney(payer.accountId)).balance === balance;

  samples.sort((a, b) => a - b);
  const p50 = percentile(samples, 50);
  const figures = {
    rate_limited_refusal_p50_ms: round(p50),
    rate_limited_refusal_p90_ms: round(percentile(samples, 90)),
    rate_limited_refusal_p99_ms: round(percentile(samples, 99)),
    target_p50_ms: TARGET_MS,
    refusals_timed: N,
    dynamodb_requests_per_refusal: requestsDuring / refused,
    balance_unchanged: unchanged,
  };
  console.table(figures);
  console.log(
    `rate_limited_refusal_p50_ms ${figures.rate_limited_refusal_p50_ms} ≤ ${TARGET_MS}: ${p50 <= TARGET_MS ? 'PASS' : 'FAIL'}`,
  );
  mergeResults('rate_limits', { ...figures, measured_at: new Date().toISOString(), cpus: os.cpus().length });
  if (requestsDuring !== 0 || !unchanged) process.exitCode = 1;
} finally {
  await dynamo.stop();
}
