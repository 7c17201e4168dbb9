// `npm run bench`: one run on a fresh in-memory DynamoDB Local.
//
//  1. floor:      a bare two-item TransactWriteItems (account-like Update + conditional Put) on the same
//                 document client the handlers use: the cost of the one round trip a charge cannot avoid.
//  2. charge:     a full fixed-cost charged request, POST /v1/demo/echo through the real handler stack,
//                 in-process with a real API Gateway v2 event. Floor and charge run in alternating blocks so
//                 machine noise hits both equally.
//  3. meter:      a service-key charge, POST /v1/meter/charges with its required Idempotency-Key, through
//                 the real handler stack, in the same alternating blocks against the same floor.
//  4. requests:   DynamoDB HTTP requests per warm charge (target: exactly one, the charging transaction).
//  5. contention: 64 concurrent callers on one account funded for exactly K calls; conservation checks.
//  6. functions:  every Lambda entry bundled with esbuild as the CDK stack does; bundle size and module
//                 load time of the bundle in a fresh process.
//
// Results: a table on stdout and bench/results/latest.json. Exit 0 even when a target is missed (printed as
// FAIL); exit 1 only when the benchmark itself fails.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { build } from 'esbuild';
import type { ApiEvent, ApiResult } from '#shared/http/api.ts';
import { floorAccount, floorLimitItem, floorTransaction, localEnvironment } from './floor.ts';

// ---- environment: set before any project module is imported (the logger reads its level on import) ----
const TABLE = 'credits-bench';
const benchEnv = localEnvironment(TABLE);
Object.assign(process.env, benchEnv);
(globalThis as { __localEvents?: unknown[] }).__localEvents = [];

const root = path.resolve(import.meta.dirname, '..');
const buildDir = path.join(import.meta.dirname, '.build');
const resultsDir = path.join(import.meta.dirname, 'results');

const N = 2000;
const WARMUP = 200;
const BLOCKS = 10;
const BLOCK = N / BLOCKS;
const ECHO_COST_USD = 0.002;
const ECHO_COST_MICROS = 2000;
const CONTENTION_CALLERS = 64;
const CONTENTION_CALLS = 3000; // the account is funded for exactly this many calls
const INIT_RUNS = 5;

// ---- statistics ----
function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length)); // nearest-rank
  return sorted[rank - 1]!;
}
const round = (value: number, places = 3) => Number(value.toFixed(places));

// ---- DynamoDB request counting ----
//
// Where the counter sits: the document client shares its middleware stack with the DynamoDBClient under it,
// so one `add` sees every command the project sends. The SDK stack runs initialize → serialize → build →
// finalizeRequest → deserialize. A middleware at `initialize` runs once per `send()` call, so it would miss
// SDK-level retries (throttles, 5xx, network errors). The retry middleware lives in `finalizeRequest` with
// priority `high`; a `finalizeRequest` middleware at priority `low` sits inside the retry loop (after
// signing), so it runs exactly once per HTTP request actually sent to DynamoDB, retries included. That is the
// one we count with. (A self-test below proves it: a client pointed at a closed port sends one command and
// the counter sees every attempt.) Application-level retries, e.g. transactWrite() retrying a
// TransactionConflict, are new `send()` calls and are counted too.
type RequestCounter = { total: number; byCommand: Map<string, number>; sendMs: number };

function instrument(client: DynamoDBDocumentClient): RequestCounter {
  const counter: RequestCounter = { total: 0, byCommand: new Map(), sendMs: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      counter.total++;
      const name = String(context.commandName ?? 'unknown');
      counter.byCommand.set(name, (counter.byCommand.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'finalizeRequest', name: 'benchCountRequests', priority: 'low' },
  );
  // Time spent inside send() (marshalling, signing, the HTTP round trip, unmarshalling), to split a charge
  // into "DynamoDB" and "everything else in the handler stack".
  client.middlewareStack.add(
    (next) => async (args) => {
      const start = performance.now();
      try {
        return await next(args);
      } finally {
        counter.sendMs += performance.now() - start;
      }
    },
    { step: 'initialize', name: 'benchTimeSend', priority: 'high' },
  );
  return counter;
}

function snapshot(counter: RequestCounter) {
  return { total: counter.total, byCommand: new Map(counter.byCommand) };
}

function delta(counter: RequestCounter, before: ReturnType<typeof snapshot>) {
  const byCommand: Record<string, number> = {};
  for (const [name, count] of counter.byCommand) {
    const diff = count - (before.byCommand.get(name) ?? 0);
    if (diff) byCommand[name] = diff;
  }
  return { total: counter.total - before.total, byCommand };
}

async function main(): Promise<number> {
  const { createTable, startDynamoLocal } = await import('../local/dynamo-local.ts');
  console.log('starting DynamoDB Local (in memory)…');
  const dynamo = await startDynamoLocal();
  process.env.DYNAMODB_ENDPOINT = dynamo.endpoint;
  const results: Record<string, unknown> = {};
  try {
    await createTable(dynamo.endpoint, TABLE);

    // Project code, imported only now that the environment is complete.
    const { createDocumentClient, setDocumentClient } = await import('#shared/dynamo/client.ts');
    const { GetCommand, PutCommand, TransactWriteCommand } = await import('@aws-sdk/lib-dynamodb');
    const { createToken } = await import('#shared/tokens/service.ts');
    const { apiEvent, lambdaContext } = await import('../test/support/api.ts');
    const { accountMoney, fundedAccount, ledgerEntries, ledgerSum } = await import(
      '../test/support/accounts.ts'
    );
    // Called as the Lambda runtime calls them: (event, context) → result.
    type Handler = (event: ApiEvent, context: Context) => Promise<ApiResult>;
    const echo = (await import('#functions/demo/echo.ts')).handler as unknown as Handler;
    const credits = (await import('#functions/account/credits.ts')).handler as unknown as Handler;
    const meter = (await import('#functions/meter/meter.ts')).handler as unknown as Handler;
    const { createServiceKey } = await import('#shared/service-keys/service.ts');

    // ---- self-test of the counter's placement: every SDK attempt is counted, retries included ----
    {
      const closed = createDocumentClient('http://127.0.0.1:9'); // nothing listens on the discard port
      const probe = instrument(closed);
      await closed
        .send(new GetCommand({ TableName: TABLE, Key: { PK: 'x', SK: 'x' } }))
        .catch(() => undefined);
      const attempts = closed.config.maxAttempts;
      const maxAttempts = typeof attempts === 'function' ? await attempts() : attempts;
      closed.destroy();
      if (probe.total !== maxAttempts) {
        throw new Error(`request counter saw ${probe.total} requests for ${maxAttempts} SDK attempts`);
      }
      console.log(
        `counter self-test: 1 send() with ${maxAttempts} SDK attempts counted as ${probe.total} requests`,
      );
    }

    const client = createDocumentClient(dynamo.endpoint);
    const counter = instrument(client);
    setDocumentClient(client);

    // ---- floor: a bare two-item transaction ----
    const floorPk = 'BENCH#floor';
    await client.send(new PutCommand({ TableName: TABLE, Item: floorAccount(floorPk) }));
    const floorOnce = async (): Promise<number> => {
      const command = new TransactWriteCommand(floorTransaction(TABLE, floorPk, ECHO_COST_MICROS));
      const start = performance.now();
      await client.send(command);
      return performance.now() - start;
    };

    // ---- charge: POST /v1/demo/echo through the real handler ----
    const payer = await fundedAccount(Math.ceil((WARMUP + N) * ECHO_COST_USD) + 1, 'Bench payer');
    type Sample = { total: number; sdk: number };
    const chargeOnce = async (): Promise<Sample> => {
      const event = apiEvent('POST', '/v1/demo/echo', { token: payer.token, body: { text: 'hello' } });
      const context = lambdaContext();
      const sdkBefore = counter.sendMs;
      const start = performance.now();
      const result = await echo(event, context);
      const total = performance.now() - start;
      const sdk = counter.sendMs - sdkBefore;
      const body = result.body ? JSON.parse(result.body) : undefined;
      if (result.statusCode !== 200 || body?.cost !== ECHO_COST_USD) {
        throw new Error(`charge returned ${result.statusCode} ${result.body}`);
      }
      return { total, sdk };
    };

    // ---- meter: the same charge made by the operator's backend through the metering API ----
    const meterPayer = await fundedAccount(Math.ceil((WARMUP + N) * ECHO_COST_USD) + 1, 'Bench meter payer');
    const { key: serviceKey } = await createServiceKey('bench backend');
    const meterBody = { account_id: meterPayer.accountId, feature: 'echo' };
    const meterOnce = async (): Promise<Sample> => {
      const event = apiEvent('POST', '/v1/meter/charges', {
        token: serviceKey,
        body: meterBody,
        headers: { 'idempotency-key': randomUUID() },
      });
      const sdkBefore = counter.sendMs;
      const start = performance.now();
      const result = await meter(event, lambdaContext());
      const total = performance.now() - start;
      const body = result.body ? JSON.parse(result.body) : undefined;
      if (result.statusCode !== 201 || body?.cost !== ECHO_COST_USD) {
        throw new Error(`meter charge returned ${result.statusCode} ${result.body}`);
      }
      return { total, sdk: counter.sendMs - sdkBefore };
    };

    console.log(`warm-up: ${WARMUP} floor + ${WARMUP} charge + ${WARMUP} meter calls`);
    for (let i = 0; i < WARMUP; i++) await floorOnce();
    for (let i = 0; i < WARMUP; i++) await chargeOnce(); // warms the token cache and the credits view
    for (let i = 0; i < WARMUP; i++) await meterOnce(); // warms the service-key cache and the view

    const floor: number[] = [];
    const floorSdk: number[] = [];
    const charge: number[] = [];
    const chargeSdk: number[] = [];
    const chargeOther: number[] = [];
    let chargeRequests = 0;
    const chargeByCommand: Record<string, number> = {};
    const meterCharge: number[] = [];
    const meterSdk: number[] = [];
    let meterRequests = 0;
    const meterByCommand: Record<string, number> = {};
    console.log(
      `measuring: ${BLOCKS} rotating blocks of ${BLOCK} floor / ${BLOCK} charge / ${BLOCK} meter calls`,
    );
    for (let block = 0; block < BLOCKS; block++) {
      const runFloor = async () => {
        for (let i = 0; i < BLOCK; i++) {
          const sdkBefore = counter.sendMs;
          floor.push(await floorOnce());
          floorSdk.push(counter.sendMs - sdkBefore);
        }
      };
      const runCharge = async () => {
        const before = snapshot(counter);
        for (let i = 0; i < BLOCK; i++) {
          const sample = await chargeOnce();
          charge.push(sample.total);
          chargeSdk.push(sample.sdk);
          chargeOther.push(sample.total - sample.sdk);
        }
        const seen = delta(counter, before);
        chargeRequests += seen.total;
        for (const [name, count] of Object.entries(seen.byCommand)) {
          chargeByCommand[name] = (chargeByCommand[name] ?? 0) + count;
        }
      };
      const runMeter = async () => {
        const before = snapshot(counter);
        for (let i = 0; i < BLOCK; i++) {
          const sample = await meterOnce();
          meterCharge.push(sample.total);
          meterSdk.push(sample.sdk);
        }
        const seen = delta(counter, before);
        meterRequests += seen.total;
        for (const [name, count] of Object.entries(seen.byCommand)) {
          meterByCommand[name] = (meterByCommand[name] ?? 0) + count;
        }
      };
      // Rotate which goes first, so none always follows another.
      const order = [runFloor, runCharge, runMeter];
      for (let i = 0; i < order.length; i++) await order[(block + i) % order.length]!();
    }

    results.floor_p50_ms = round(percentile(floor, 50));
    results.floor_p99_ms = round(percentile(floor, 99));
    results.charge_p50_ms = round(percentile(charge, 50));
    results.charge_p99_ms = round(percentile(charge, 99));
    results.ratio_p50 = round(percentile(charge, 50) / percentile(floor, 50));
    results.meter_charge_p50_ms = round(percentile(meterCharge, 50));
    results.meter_charge_p99_ms = round(percentile(meterCharge, 99));
    results.meter_ratio_p50 = round(percentile(meterCharge, 50) / percentile(floor, 50));
    results.meter = {
      ddb_requests_per_charge: round(meterRequests / N),
      ddb_requests_by_command: meterByCommand,
      sdk_p50_ms: round(percentile(meterSdk, 50)),
    };
    results.ddb_requests_per_charge = round(chargeRequests / N);
    results.ddb_writes_per_charge = round((chargeByCommand.TransactWriteItemsCommand ?? 0) / N);
    results.ddb_requests_measured = chargeRequests;
    results.charge_calls_measured = N;
    // Anything beyond TransactWriteItems is time-based, not per call: the credits view's refresh read
    // (GetItem, every CREDITS_VIEW_TTL_MS per account) and the token's re-check (UpdateItem, every
    // TOKEN_CACHE_TTL_MS per token), so the figure depends on how long the measured window lasts.
    results.ddb_requests_by_command = chargeByCommand;
    // Where a charge's time goes: inside the DynamoDB client's send() vs the rest of the handler stack.
    results.breakdown = {
      floor_sdk_p50_ms: round(percentile(floorSdk, 50)),
      charge_sdk_p50_ms: round(percentile(chargeSdk, 50)),
      charge_non_ddb_p50_ms: round(percentile(chargeOther, 50)),
      charge_non_ddb_p99_ms: round(percentile(chargeOther, 99)),
    };

    // ---- postpaid: the same call on a postpaid account under a spend limit (2-item transaction) ----
    {
      const { setBillingMode, setSpendLimit } = await import('#shared/accounts/billing-mode.ts');
      const { fromWire } = await import('#shared/money.ts');
      const postpaid = await fundedAccount(0, 'Bench postpaid');
      await setBillingMode(postpaid.accountId, 'postpaid');
      await setSpendLimit(postpaid.accountId, fromWire(1_000));
      const postpaidOnce = async (): Promise<number> => {
        const event = apiEvent('POST', '/v1/demo/echo', { token: postpaid.token, body: { text: 'hello' } });
        const start = performance.now();
        const result = await echo(event, lambdaContext());
        const elapsed = performance.now() - start;
        if (result.statusCode !== 200)
          throw new Error(`postpaid charge returned ${result.statusCode} ${result.body}`);
        return elapsed;
      };
      for (let i = 0; i < WARMUP; i++) await postpaidOnce();
      const before = snapshot(counter);
      const samples: number[] = [];
      for (let i = 0; i < N / 2; i++) samples.push(await postpaidOnce());
      const seen = delta(counter, before);
      const usage = (await accountMoney(postpaid.accountId)).period_usage;
      if (usage !== (WARMUP + N / 2) * ECHO_COST_MICROS)
        throw new Error(`postpaid usage ${usage} is not exact`);
      results.postpaid = {
        charge_p50_ms: round(percentile(samples, 50)),
        charge_p99_ms: round(percentile(samples, 99)),
        ratio_p50_vs_floor: round(percentile(samples, 50) / percentile(floor, 50)),
        ddb_writes_per_charge: round((seen.byCommand.TransactWriteItemsCommand ?? 0) / (N / 2)),
        ddb_requests_per_charge: round(seen.total / (N / 2)),
      };
    }

    // ---- token limit: the same call with a token that has its own spend limit (account, entry and the
    // token's limit item) against a floor of the same three items, interleaved call by call ----
    {
      const { fromWire } = await import('#shared/money.ts');
      const owner = await fundedAccount(Math.ceil((WARMUP + N) * ECHO_COST_USD) + 1, 'Bench limited token');
      const limited = await createToken(owner.accountId, {
        name: 'limited',
        scopes: ['api'],
        spendLimit: { amount: fromWire(1_000_000), reset: 'monthly' },
      });
      await client.send(new PutCommand({ TableName: TABLE, Item: floorLimitItem(floorPk) }));
      const floor3Once = async (): Promise<number> => {
        const command = new TransactWriteCommand(floorTransaction(TABLE, floorPk, ECHO_COST_MICROS, true));
        const start = performance.now();
        await client.send(command);
        return performance.now() - start;
      };
      const limitedOnce = async (): Promise<number> => {
        const event = apiEvent('POST', '/v1/demo/echo', { token: limited.token, body: { text: 'hello' } });
        const start = performance.now();
        const result = await echo(event, lambdaContext());
        const elapsed = performance.now() - start;
        if (result.statusCode !== 200)
          throw new Error(`limited-token charge returned ${result.statusCode} ${result.body}`);
        return elapsed;
      };
      for (let i = 0; i < WARMUP; i++) {
        await floor3Once();
        await limitedOnce();
      }
      const floor3: number[] = [];
      const limitedSamples: number[] = [];
      for (let i = 0; i < N / 2; i++) {
        const pair = i % 2 === 0 ? [floor3Once, limitedOnce] : [limitedOnce, floor3Once];
        for (const once of pair) (once === floor3Once ? floor3 : limitedSamples).push(await once());
      }
      const item = (
        await client.send(
          new GetCommand({
            TableName: TABLE,
            Key: { PK: `TOKEN_LIMIT#${owner.accountId}#${limited.id}`, SK: 'TOKEN_LIMIT' },
          }),
        )
      ).Item;
      if (item?.spent !== (WARMUP + N / 2) * ECHO_COST_MICROS)
        throw new Error(`limited token spent ${item?.spent}, not the calls made`);
      results.limited_token_ratio_p50 = round(percentile(limitedSamples, 50) / percentile(floor3, 50));
      results.limited_token = {
        charge_p50_ms: round(percentile(limitedSamples, 50)),
        floor_3_items_p50_ms: round(percentile(floor3, 50)),
      };
    }

    // ---- contention: 64 callers, one account funded for exactly K calls ----
    console.log(
      `contention: ${CONTENTION_CALLERS} concurrent callers, account funded for ${CONTENTION_CALLS} calls`,
    );
    const hot = await fundedAccount((CONTENTION_CALLS * ECHO_COST_MICROS) / 1_000_000, 'Bench hot account');
    const second = await createToken(hot.accountId, { name: 'bench second token', scopes: ['api'] });
    const tokens = [hot.token, second.token];
    // Warm both tokens in the shared token cache without spending (GET /v1/credits authenticates the same way).
    for (const token of tokens) {
      const warmed = await credits(apiEvent('GET', '/v1/credits', { token }), lambdaContext());
      if (warmed.statusCode !== 200) throw new Error(`credits returned ${warmed.statusCode} ${warmed.body}`);
    }
    let successes = 0;
    let refusals = 0;
    let serverErrors = 0;
    const contentionBefore = snapshot(counter);
    const caller = async (token: string) => {
      for (;;) {
        const result = await echo(
          apiEvent('POST', '/v1/demo/echo', { token, body: { text: 'hot' } }),
          lambdaContext(),
        );
        if (result.statusCode === 200) {
          if (JSON.parse(result.body).cost !== ECHO_COST_USD) throw new Error(`charged ${result.body}`);
          successes++;
          if (successes > CONTENTION_CALLS * 2) throw new Error('contention: far more successes than funded');
          continue;
        }
        if (result.statusCode === 402) {
          refusals++;
          return;
        }
        if (result.statusCode >= 500) {
          // e.g. a transaction that lost every conflict retry: nothing was charged; the caller tries again.
          serverErrors++;
          if (serverErrors > 1000) throw new Error(`contention: too many server errors, last ${result.body}`);
          continue;
        }
        throw new Error(`contention: unexpected ${result.statusCode} ${result.body}`);
      }
    };
    const wallStart = performance.now();
    await Promise.all(
      Array.from({ length: CONTENTION_CALLERS }, (_, i) => caller(tokens[i % tokens.length]!)),
    );
    const wallSeconds = (performance.now() - wallStart) / 1000;
    const contentionSeen = delta(counter, contentionBefore);

    const account = await accountMoney(hot.accountId);
    const entries = await ledgerEntries(hot.accountId);
    const usageEntries = entries.filter((entry) => entry.type === 'usage').length;
    const checks = {
      successes_equal_funded_calls: successes === CONTENTION_CALLS,
      balance_is_zero: account.balance === 0,
      ledger_sum_equals_balance: ledgerSum(entries) === account.balance,
      usage_entries_equal_successes: usageEntries === successes,
    };
    results.contention_calls_per_s = round(successes / wallSeconds, 1);
    results.contention_conservation_errors = Object.values(checks).filter((ok) => !ok).length;
    results.contention = {
      callers: CONTENTION_CALLERS,
      tokens: tokens.length,
      funded_calls: CONTENTION_CALLS,
      successes,
      refusals_402: refusals,
      server_errors: serverErrors,
      wall_s: round(wallSeconds),
      balance_micros: account.balance,
      available_micros: account.available,
      held_micros: account.held,
      ledger_entries: entries.length,
      usage_entries: usageEntries,
      ledger_sum_micros: ledgerSum(entries),
      transact_attempts_per_success: round(
        (contentionSeen.byCommand.TransactWriteItemsCommand ?? 0) / successes,
      ),
      ddb_requests_by_command: contentionSeen.byCommand,
      checks,
    };
    // ---- proxy: POST /v1/sample/translate through the proxy handler vs the same call straight to the upstream ----
    {
      const { startSampleUpstream } = await import('../local/sample-upstream.ts');
      const { signatureHeader } = await import('#shared/proxy/signature.ts');
      const secret = randomUUID() + randomUUID();
      const upstream = await startSampleUpstream(secret);
      process.env.PROXY_UPSTREAMS = JSON.stringify({ sample: { url: upstream.url, secret } });
      const proxy = (await import('#functions/proxy.ts')).handler as unknown as Handler;
      const proxyPayer = await fundedAccount(Math.ceil((WARMUP + N) * 0.005) + 1, 'Bench proxy payer');
      const body = JSON.stringify({ text: 'hello', to: 'fr' });
      // The same request the proxy makes: Node's fetch (keep-alive), the signed headers, the body.
      const directOnce = async (): Promise<number> => {
        const start = performance.now();
        const response = await fetch(`${upstream.url}/translate`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-credits-account-id': proxyPayer.accountId,
            'x-credits-request-id': 'req_direct',
            'x-credits-feature': 'sample_translate',
            'x-credits-signature': signatureHeader(
              secret,
              'req_direct',
              proxyPayer.accountId,
              Math.floor(Date.now() / 1000),
            ),
          },
          body,
        });
        await response.arrayBuffer();
        const elapsed = performance.now() - start;
        if (response.status !== 200) throw new Error(`direct call returned ${response.status}`);
        return elapsed;
      };
      const proxiedOnce = async (): Promise<number> => {
        const event = apiEvent('POST', '/v1/sample/translate', { token: proxyPayer.token, rawBody: body });
        const start = performance.now();
        const result = await proxy(event, lambdaContext());
        const elapsed = performance.now() - start;
        if (result.statusCode !== 200 || JSON.parse(result.body).cost !== 0.005) {
          throw new Error(`proxied call returned ${result.statusCode} ${result.body}`);
        }
        return elapsed;
      };
      console.log(`proxy: ${WARMUP} warm-up, then ${BLOCKS} alternating blocks of direct / proxied calls`);
      for (let i = 0; i < WARMUP; i++) {
        await directOnce();
        await proxiedOnce();
      }
      const direct: number[] = [];
      const proxied: number[] = [];
      for (let block = 0; block < BLOCKS; block++) {
        const runDirect = async () => {
          for (let i = 0; i < BLOCK; i++) direct.push(await directOnce());
        };
        const runProxied = async () => {
          for (let i = 0; i < BLOCK; i++) proxied.push(await proxiedOnce());
        };
        if (block % 2 === 0) {
          await runDirect();
          await runProxied();
        } else {
          await runProxied();
          await runDirect();
        }
      }
      await upstream.stop();
      results.proxy_direct_p50_ms = round(percentile(direct, 50));
      results.proxy_proxied_p50_ms = round(percentile(proxied, 50));
      results.proxy_overhead_p50_ms = round(percentile(proxied, 50) - percentile(direct, 50));
      const proxyAccount = await accountMoney(proxyPayer.accountId);
      const proxyEntries = await ledgerEntries(proxyPayer.accountId);
      results.proxy_conservation_errors =
        Number(ledgerSum(proxyEntries) !== proxyAccount.balance) +
        Number(proxyEntries.filter((entry) => entry.type === 'usage').length !== WARMUP + N);
    }

    client.destroy();
  } finally {
    await dynamo.stop();
  }

  // ---- functions: bundle size and module load time of each bundle ----
  const { functions } = await import('#infra/definitions/functions.ts');
  await mkdir(buildDir, { recursive: true });
  await writeFile(path.join(buildDir, '.gitignore'), '*\n');
  console.log(
    `bundling ${Object.keys(functions).length} functions and timing their module load (${INIT_RUNS} runs each)`,
  );
  const functionResults: Record<string, { bundle_kb: number; init_ms: number }> = {};
  // The load probe: a fresh Node process that imports the bundle and prints how long the import took.
  const probe = [
    'const start = performance.now();',
    'await import(process.env.BENCH_BUNDLE_URL);',
    'process.stdout.write(String(performance.now() - start));',
  ].join(' ');
  for (const [name, spec] of Object.entries(functions)) {
    const outfile = path.join(buildDir, `${name}.mjs`);
    await build({
      entryPoints: [path.join(root, spec.entry)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      minify: true,
      // As the CDK house function bundles (infra/constructs/house-function.ts).
      mainFields: ['module', 'main'],
      banner: {
        js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
      logLevel: 'error',
    });
    const { size } = await stat(outfile);
    const runs: number[] = [];
    for (let i = 0; i < INIT_RUNS; i++) {
      const output = execFileSync(process.execPath, ['--input-type=module', '-e', probe], {
        cwd: buildDir,
        env: { ...process.env, ...benchEnv, BENCH_BUNDLE_URL: pathToFileURL(outfile).href },
        encoding: 'utf8',
      });
      runs.push(Number(output));
    }
    functionResults[name] = { bundle_kb: round(size / 1024, 1), init_ms: round(percentile(runs, 50), 1) };
  }
  results.functions = functionResults;
  // The proxy function against the metered features' bundle (the echo feature's): within 10 %.
  results.proxy_bundle_vs_echo = round(
    (functionResults.proxy?.bundle_kb ?? 0) / (functionResults.demoEcho?.bundle_kb ?? 1),
  );

  // ---- report ----
  const cpus = os.cpus();
  const report = {
    measured_at: new Date().toISOString(),
    node: process.version,
    machine: {
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      cpus: cpus.length,
      cpu_model: cpus[0]?.model ?? 'unknown',
      memory_gb: round(os.totalmem() / 1024 ** 3, 1),
    },
    n: N,
    warmup: WARMUP,
    ...results,
  };
  await mkdir(resultsDir, { recursive: true });
  await writeFile(path.join(resultsDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);

  const ratio = results.ratio_p50 as number;
  const meterRatio = results.meter_ratio_p50 as number;
  const requests = results.ddb_requests_per_charge as number;
  const conservation = results.contention_conservation_errors as number;
  const verdict = (ok: boolean) => (ok ? 'pass' : 'FAIL');
  const rows: [string, string, string, string][] = [
    ['floor_p50_ms', String(results.floor_p50_ms), '', ''],
    ['floor_p99_ms', String(results.floor_p99_ms), '', ''],
    ['charge_p50_ms', String(results.charge_p50_ms), '', ''],
    ['charge_p99_ms', String(results.charge_p99_ms), '', ''],
    ['ratio_p50', ratio.toFixed(3), '<= 1.5', verdict(ratio <= 1.5)],
    ['meter_charge_p50_ms', String(results.meter_charge_p50_ms), '', ''],
    ['meter_charge_p99_ms', String(results.meter_charge_p99_ms), '', ''],
    ['meter_ratio_p50', meterRatio.toFixed(3), '<= 1.5', verdict(meterRatio <= 1.5)],
    ['ddb_requests_per_charge', requests.toFixed(3), '= 1.000', verdict(requests.toFixed(3) === '1.000')],
    ['ddb_writes_per_charge', (results.ddb_writes_per_charge as number).toFixed(3), '', ''],
    ['contention_calls_per_s', String(results.contention_calls_per_s), '', ''],
    ...Object.entries(results.postpaid as Record<string, number>).map(
      ([name, value]): [string, string, string, string] => [`postpaid.${name}`, String(value), '', ''],
    ),
    ['contention_conservation_errors', String(conservation), '= 0', verdict(conservation === 0)],
    [
      'limited_token_ratio_p50',
      String(results.limited_token_ratio_p50),
      '<= 1.5',
      verdict((results.limited_token_ratio_p50 as number) <= 1.5),
    ],
    ...Object.entries(results.limited_token as Record<string, number>).map(
      ([name, value]): [string, string, string, string] => [`limited_token.${name}`, String(value), '', ''],
    ),
    ['proxy_direct_p50_ms', String(results.proxy_direct_p50_ms), '', ''],
    ['proxy_proxied_p50_ms', String(results.proxy_proxied_p50_ms), '', ''],
    [
      'proxy_overhead_p50_ms',
      String(results.proxy_overhead_p50_ms),
      `<= 1.5 × floor = ${round(1.5 * (results.floor_p50_ms as number))}`,
      verdict((results.proxy_overhead_p50_ms as number) <= 1.5 * (results.floor_p50_ms as number)),
    ],
    [
      'proxy_conservation_errors',
      String(results.proxy_conservation_errors),
      '= 0',
      verdict(results.proxy_conservation_errors === 0),
    ],
  ];
  const bundleRatio = results.proxy_bundle_vs_echo as number;
  rows.push(['proxy_bundle_vs_echo', bundleRatio.toFixed(3), '<= 1.1', verdict(bundleRatio <= 1.1)]);
  for (const [name, value] of Object.entries(functionResults)) {
    rows.push([`${name}.bundle_kb`, String(value.bundle_kb), '', '']);
    rows.push([`${name}.init_ms`, String(value.init_ms), '', '']);
  }
  const widths = [0, 1, 2, 3].map((col) =>
    Math.max(...[['metric', 'value', 'target', 'result'], ...rows].map((row) => row[col]!.length)),
  );
  const line = (row: string[]) => row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ');
  console.log();
  console.log(line(['metric', 'value', 'target', 'result']));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
  console.log();
  console.log('charge requests by command:', JSON.stringify(results.ddb_requests_by_command));
  console.log('charge breakdown (p50):', JSON.stringify(results.breakdown));
  console.log('meter charge:', JSON.stringify(results.meter));
  console.log('contention:', JSON.stringify(results.contention));
  console.log(`written to ${path.relative(root, path.join(resultsDir, 'latest.json'))}`);
  const failed = rows.filter((row) => row[3] === 'FAIL').map((row) => row[0]);
  if (failed.length) console.log(`\nFAIL: ${failed.join(', ')} missed the target`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('bench failed:', error);
    process.exit(1);
  },
);
