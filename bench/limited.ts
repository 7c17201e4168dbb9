// `npm run bench`, part: one account's charge throughput when DynamoDB Local is held to a per-partition write
// limit (DYNAMO_WRITE_LIMIT_PER_PARTITION, the limiter in shared/dynamo/write-limiter.ts): with one balance
// shard, then with 16 (`hot_account_scaling` = 16 shards ÷ 1 shard), then the write units of a 10,000-charge
// run on a 16-shard account by partition (`hottest_partition_write_share`: the busiest partition's share).
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

// Write units per second per partition key (AWS: 1,000), scaled down so that one machine's CPU can drive a
// partition to its limit: BENCH_PARTITION_LIMIT picks another (lower: the sharded run stays partition-bound
// rather than bound by the CPU the handler stack and DynamoDB Local share).
const LIMIT = Number(process.env.BENCH_PARTITION_LIMIT ?? 100);
const CALLERS = 32;
const WARM_S = 2;
const MEASURE_S = 10;
const ECHO_MICROS = 2_000;
const FUNDED_USD = 100; // 50,000 calls: never the limit here
const SHARDS = 16;
const SHARE_RUN_CHARGES = 10_000;
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

  const { writesOf } = await import('#shared/dynamo/write-limiter.ts');
  const { setBalanceShards, readShards } = await import('#shared/ledger/balance-shards.ts');
  const { totalOf } = await import('#shared/ledger/shard-plan.ts');

  // Every write the limiter lets through passes here (added after it, in the same step, this middleware runs
  // inside it): the measured window's committed charges, and the write units by partition while counting.
  const gate = { windowStart: 0, windowEnd: 0, committed: 0, counting: false };
  const unitsByPartition = new Map<string, number>();
  ddb().middlewareStack.add(
    (next, context) => async (args) => {
      const at = performance.now(); // reached: the limiter let it through now
      const result = await next(args);
      if (
        context.commandName === 'TransactWriteItemsCommand' &&
        at >= gate.windowStart &&
        at < gate.windowEnd
      )
        gate.committed++;
      if (gate.counting) {
        const request = writesOf(String(context.commandName), args.input as never);
        for (const write of request?.writes ?? [])
          unitsByPartition.set(write.partition, (unitsByPartition.get(write.partition) ?? 0) + write.units);
      }
      return result;
    },
    { step: 'finalizeRequest', priority: 'low', name: 'benchCommittedCharges' },
  );

  type Payer = { accountId: string; token: string };
  /** CALLERS callers charging until `until()` says stop; each 503 waited out and sent again under its key. */
  const charge = async (
    payer: Payer,
    until: () => boolean,
    counts: { charged: number; answered503: number },
  ) => {
    const caller = async () => {
      while (!until()) {
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
    await Promise.all(Array.from({ length: CALLERS }, caller));
  };

  /** Conservation of one account: its shards sum to the funds less the charges and to its ledger. */
  const conservation = async (payer: Payer, charged: number) => {
    const read = await readShards(payer.accountId);
    const total = totalOf(read.states);
    const entries = await ledgerEntries(payer.accountId);
    const usage = entries.filter((entry) => entry.type === 'usage');
    const checks = {
      balance_is_funds_less_charges: total.balance === FUNDED_USD * 1_000_000 - charged * ECHO_MICROS,
      ledger_sum_equals_balance: ledgerSum(entries) === total.balance,
      one_usage_entry_per_charge: usage.length === charged,
      no_request_charged_twice: new Set(usage.map((entry) => entry.request_id)).size === usage.length,
    };
    return {
      checks,
      errors: Object.values(checks).filter((ok) => !ok).length,
      overdrafts: read.states.filter((shard) => shard.available < 0).length,
      usage,
    };
  };

  const newPayer = async (shards: number): Promise<Payer> => {
    const payer = await fundedAccount(FUNDED_USD, `Bench hot account, ${shards} shard(s), limited`);
    if (shards > 1) await setBalanceShards(payer.accountId, shards);
    const warmed = await credits(apiEvent('GET', '/v1/credits', { token: payer.token }), lambdaContext());
    if (warmed.statusCode !== 200) throw new Error(`credits returned ${warmed.statusCode} ${warmed.body}`);
    return payer;
  };

  /** Charges/s of one account over the measured window, after WARM_S spends the buckets' initial burst. */
  const throughput = async (payer: Payer) => {
    const started = performance.now();
    gate.windowStart = started + WARM_S * 1000;
    gate.windowEnd = gate.windowStart + MEASURE_S * 1000;
    gate.committed = 0;
    const counts = { charged: 0, answered503: 0 };
    const throttledBefore = limiter.stats().throttledRequests;
    await charge(payer, () => performance.now() >= gate.windowEnd, counts);
    return {
      perSecond: round(gate.committed / MEASURE_S, 1),
      counts,
      throttled: limiter.stats().throttledRequests - throttledBefore,
      conservation: await conservation(payer, counts.charged),
    };
  };

  console.log(`limited: ${CALLERS} callers on one account, ${LIMIT} write units/s per partition key`);
  const payer = await newPayer(1);
  const single = await throughput(payer);
  const counts = single.counts;
  console.log(`limited: the same with ${SHARDS} balance shards`);
  const sharded = await throughput(await newPayer(SHARDS));

  console.log(`limited: ${SHARE_RUN_CHARGES} charges on a ${SHARDS}-shard account, write units by partition`);
  const sharePayer = await newPayer(SHARDS);
  const shareCounts = { charged: 0, answered503: 0 };
  let started = 0;
  gate.counting = true;
  await charge(sharePayer, () => started++ >= SHARE_RUN_CHARGES, shareCounts);
  gate.counting = false;
  const shareRun = await conservation(sharePayer, shareCounts.charged);
  const allUnits = [...unitsByPartition.values()].reduce((sum, units) => sum + units, 0);
  const hottest = [...unitsByPartition.entries()].sort((a, b) => b[1] - a[1])[0];

  // The real sizes of the items a one-shard charge writes (the limiter bills updates by estimate).
  // The raw item, every attribute DynamoDB stores (the repository's view leaves some out).
  const { Item: account } = await ddb().send(
    new GetCommand({ TableName: TABLE, Key: keys.account(payer.accountId), ConsistentRead: true }),
  );
  const usage = single.conservation.usage;
  const checks = single.conservation.checks;
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
    single_account_charges_per_s_limited: single.perSecond,
    sharded_16_charges_per_s_limited: sharded.perSecond,
    hot_account_scaling: round(sharded.perSecond / single.perSecond, 2),
    hottest_partition_write_share: round((hottest?.[1] ?? 0) / allUnits, 4),
    // What the partitions allow, whatever the CPU: the limit over the hottest partition's units per charge
    // in the 10,000-charge run (the 16-shard window above is bound by the shared cores, not by partitions).
    ceiling_charges_per_s_16_shards: round((LIMIT * shareCounts.charged) / (hottest?.[1] ?? 1), 1),
    write_units_per_charge_16_shards: round(allUnits / shareCounts.charged, 2),
    hottest_partition: hottest?.[0].replace(/^[^|]*\|/, '').replace(/acct_[0-9A-Z]+/, '<account>') ?? null,
    share_run_charges: shareCounts.charged,
    share_run_partitions: unitsByPartition.size,
    write_limit_per_partition: LIMIT,
    callers: CALLERS,
    measured_s: MEASURE_S,
    charges: counts.charged,
    charges_16_shards: sharded.counts.charged,
    answered_503: counts.answered503,
    answered_503_16_shards: sharded.counts.answered503,
    throttled_ddb_attempts: single.throttled,
    throttled_ddb_attempts_16_shards: sharded.throttled,
    write_units_per_charge: unitsPerCharge,
    ceiling_charges_per_s: round(LIMIT / unitsPerCharge, 1),
    ceiling_scaling: round((LIMIT * shareCounts.charged) / (hottest?.[1] ?? 1) / (LIMIT / unitsPerCharge), 1),
    ...sizes,
    conservation_errors: single.conservation.errors + sharded.conservation.errors + shareRun.errors,
    overdrafts: single.conservation.overdrafts + sharded.conservation.overdrafts + shareRun.overdrafts,
  };
  console.table(figures);
  console.table({
    one_shard: checks,
    sixteen_shards: sharded.conservation.checks,
    share_run: shareRun.checks,
  });
  mergeResults('limited', {
    ...figures,
    checks,
    checks_16_shards: sharded.conservation.checks,
    checks_share_run: shareRun.checks,
    measured_at: new Date().toISOString(),
    cpus: os.cpus().length,
  });
} finally {
  await dynamo.stop();
}
