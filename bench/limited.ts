// `npm run bench`, part: one account's charge throughput when DynamoDB Local is held to a per-partition write
// limit (DYNAMO_WRITE_LIMIT_PER_PARTITION, the limiter in shared/dynamo/write-limiter.ts): the 1-shard baseline
// that a sharded balance is compared to (`hot_account_scaling` = 16 shards ÷ 1 shard).
//
// CALLERS concurrent callers charge POST /v1/demo/echo on one account through the real handler stack, each
// with its own Idempotency-Key, and do what a client should with a 503: wait `retry-after`, send the same
// request again. Charges let through (and committed) within the measured window, after WARM_S spends the
// bucket's initial burst, divided by its length give `single_account_charges_per_s_limited`. Then
// conservation: the balance is the funds less the charges, the ledger sums to it, one usage entry per request.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context } from 'aws-lambda';
import type { ApiEvent, ApiResult } from '#shared/http/api.ts';
import { createTable, startDynamoLocal } from '../local/dynamo-local.ts';
import { LIFTED_RATE_LIMITS } from './floor.ts';
import { mergeResults } from './results.ts';

const LIMIT = 100; // write units per second per partition key (AWS: 1,000)
const CALLERS = 32;
const WARM_S = 2;
const MEASURE_S = 10;
const ECHO_MICROS = 2_000;
const FUNDED_USD = 100; // 50,000 calls: never the limit here
const TABLE = 'credits-bench-limited';

Object.assign(process.env, {
  TABLE_NAME: TABLE,
  LOCAL_MODE: 'true',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  DYNAMO_WRITE_LIMIT_PER_PARTITION: String(LIMIT),
  ...LIFTED_RATE_LIMITS,
});
(globalThis as { __localEvents?: unknown[] }).__localEvents = [];

const round = (value: number, places = 2) => Number(value.toFixed(places));

const dynamo = await startDynamoLocal();
process.env.DYNAMODB_ENDPOINT = dynamo.endpoint;
try {
  await createTable(dynamo.endpoint, TABLE);
  const { activeWriteLimiter } = await import('#shared/dynamo/write-limiter.ts');
  const { itemSize, writeUnits } = await import('#shared/dynamo/item-size.ts');
  const { ddb } = await import('#shared/dynamo/client.ts');
  const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
  const { queryAll } = await import('#shared/dynamo/query.ts');
  const { keys } = await import('#shared/dynamo/keys.ts');
  const { apiEvent, lambdaContext } = await import('../test/support/api.ts');
  const { fundedAccount, ledgerEntries, ledgerSum } = await import('../test/support/accounts.ts');
  type Handler = (event: ApiEvent, context: Context) => Promise<ApiResult>;
  const echo = (await import('#functions/demo/echo.ts')).handler as unknown as Handler;
  const credits = (await import('#functions/account/credits.ts')).handler as unknown as Handler;

  const limiter = activeWriteLimiter();
  if (limiter?.unitsPerSecond !== LIMIT) throw new Error('the write limiter is not on');
  const payer = await fundedAccount(FUNDED_USD, 'Bench hot account, limited');
  const warmed = await credits(apiEvent('GET', '/v1/credits', { token: payer.token }), lambdaContext());
  if (warmed.statusCode !== 200) throw new Error(`credits returned ${warmed.statusCode} ${warmed.body}`);

  console.log(`limited: ${CALLERS} callers on one account, ${LIMIT} write units/s per partition key`);
  const started = performance.now();
  const windowStart = started + WARM_S * 1000;
  const windowEnd = windowStart + MEASURE_S * 1000;
  const counts = { charged: 0, answered503: 0 };
  const caller = async () => {
    while (performance.now() < windowEnd) {
      const key = randomUUID();
      for (;;) {
        const result = await echo(
          apiEvent('POST', '/v1/demo/echo', {
            token: payer.token,
            body: { text: 'hot' },
            headers: { 'idempotency-key': key },
          }),
          lambdaContext(),
        );
        if (result.statusCode === 200) {
          counts.charged++;
          break;
        }
        if (result.statusCode !== 503)
          throw new Error(`limited: unexpected ${result.statusCode} ${result.body}`);
        counts.answered503++;
        await new Promise((resolve) => setTimeout(resolve, 1000 * Number(result.headers['retry-after'])));
      }
    }
  };
  // Charges are counted when the limiter lets their transaction through (and it then commits), not when the
  // caller hears of it: a throttled write of the Idempotency-Key's answer can hold the answer back past the
  // window's edge. Added after the limiter, in the same step, this middleware runs inside it.
  let committedInWindow = 0;
  ddb().middlewareStack.add(
    (next, context) => async (args) => {
      const at = performance.now(); // reached: the limiter let it through now
      const result = await next(args);
      if (context.commandName === 'TransactWriteItemsCommand' && at >= windowStart && at < windowEnd)
        committedInWindow++;
      return result;
    },
    { step: 'finalizeRequest', priority: 'low', name: 'benchCommittedCharges' },
  );
  const throttledBefore = limiter.stats().throttledRequests;
  await Promise.all(Array.from({ length: CALLERS }, caller));
  const stats = limiter.stats();

  // Conservation, and the real sizes of the items a charge writes (the limiter bills updates by estimate).
  // The raw item, every attribute DynamoDB stores (the repository's view leaves some out).
  const { Item: account } = await ddb().send(
    new GetCommand({ TableName: TABLE, Key: keys.account(payer.accountId), ConsistentRead: true }),
  );
  const entries = await ledgerEntries(payer.accountId);
  const usage = entries.filter((entry) => entry.type === 'usage');
  const checks = {
    balance_is_funds_less_charges: account?.balance === FUNDED_USD * 1_000_000 - counts.charged * ECHO_MICROS,
    ledger_sum_equals_balance: ledgerSum(entries) === account?.balance,
    one_usage_entry_per_charge: usage.length === counts.charged,
    no_request_charged_twice: new Set(usage.map((entry) => entry.request_id)).size === usage.length,
  };
  const itemsOf = (prefix: string) =>
    queryAll({
      TableName: TABLE,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': keys.account(payer.accountId).PK, ':prefix': prefix },
    });
  const guards = await itemsOf('REF#idem:');
  const bytes = (item: unknown) => itemSize(marshall(item, { removeUndefinedValues: true }));
  const sizes = {
    account_item_bytes: bytes(account),
    ledger_entry_bytes: Math.max(...usage.map(bytes)),
    key_guard_bytes: Math.max(...guards.map(bytes)),
  };
  // One transaction in the account's partition: account, ledger entry, the key's guard (usage is rolled up
  // from the stream in its own partition).
  const unitsPerCharge = 2 * Object.values(sizes).reduce((sum, size) => sum + writeUnits(size), 0);

  const figures = {
    single_account_charges_per_s_limited: round(committedInWindow / MEASURE_S, 1),
    write_limit_per_partition: LIMIT,
    callers: CALLERS,
    measured_s: MEASURE_S,
    charges: counts.charged,
    answered_503: counts.answered503,
    throttled_ddb_attempts: stats.throttledRequests - throttledBefore,
    write_units_per_charge: unitsPerCharge,
    ceiling_charges_per_s: round(LIMIT / unitsPerCharge, 1),
    ...sizes,
    conservation_errors: Object.values(checks).filter((ok) => !ok).length,
  };
  console.table(figures);
  console.table(checks);
  mergeResults('limited', {
    ...figures,
    checks,
    measured_at: new Date().toISOString(),
    cpus: os.cpus().length,
  });
} finally {
  await dynamo.stop();
}
