// `npm run bench:invoicing`: the monthly invoicing job at scale, on a fresh in-memory DynamoDB Local and the
// Stripe emulator through the real `stripe` SDK. 1,000 postpaid accounts with a closed month of usage are
// invoiced by one run of the dispatcher, fanned out in batches of ten to the real invoice worker, five
// batches at a time (the SQS event source's concurrency, test/support/postpaid.ts). The run must invoice
// every account exactly once (one open 2-cent invoice each) and a second run must find nothing due; it
// times the run. test/integration/postpaid-invoicing.test.ts proves the same outcomes on a smaller fan-out
// that still crosses every boundary (full and partial batches in a shard, more batches than the dispatcher
// keeps in flight and than the queue runs at once).
//
// Results: a table on stdout and the `postpaid_invoicing` section of bench/results/latest.json. Exit 1 when
// an outcome is wrong (the benchmark itself failed).
import { randomBytes } from 'node:crypto';
import { createTable, startDynamoLocal } from '../local/dynamo-local.ts';
import { localEnvironment } from './floor.ts';
import { mergeResults } from './results.ts';

const ACCOUNTS = Number(process.env.BENCH_INVOICING_ACCOUNTS ?? 1_000);
/** Accounts created at once while seeding. */
const SEED_PARALLEL = 50;
const QUEUE_CONCURRENCY = 5;
const PERIOD = '2037-03';
/** 13 echo calls at 0.002: 2.6 cents, invoiced as 2. */
const USAGE_MICROS = 2_000 * 13;
const INVOICE_CENTS = 2;

const table = 'credits-invoicing-bench';
Object.assign(process.env, localEnvironment(table), {
  CURSOR_KEY: randomBytes(32).toString('base64url'),
});
(globalThis as { __localEvents?: unknown[] }).__localEvents = [];

const dynamo = await startDynamoLocal();
process.env.DYNAMODB_ENDPOINT = dynamo.endpoint;
const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  if (!ok) failures.push(what);
};
try {
  await createTable(dynamo.endpoint, table);
  // Project modules read the environment as they load: imported once it is set.
  const { setClock } = await import('#shared/clock.ts');
  const { dispatchDueInvoices } = await import('#shared/postpaid/dispatch.ts');
  const { startPayments } = await import('../test/support/payments.ts');
  const { accrue, installInvoiceQueue, postpaidAccount } = await import('../test/support/postpaid.ts');

  const payments = await startPayments();
  const queue = installInvoiceQueue(QUEUE_CONCURRENCY);
  try {
    setClock(new Date(`${PERIOD}-10T00:00:00Z`));
    const accounts: string[] = [];
    const seedStarted = performance.now();
    for (let i = 0; i < ACCOUNTS; i += SEED_PARALLEL) {
      const created = await Promise.all(
        Array.from({ length: Math.min(SEED_PARALLEL, ACCOUNTS - i) }, async () => {
          const { accountId } = await postpaidAccount();
          await accrue(accountId, PERIOD, 'echo', USAGE_MICROS);
          return accountId;
        }),
      );
      accounts.push(...created);
    }
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    setClock(new Date('2037-04-01T00:15:00Z'));

    const started = performance.now();
    const report = await dispatchDueInvoices();
    const seconds = (performance.now() - started) / 1000;
    const again = await dispatchDueInvoices();

    const invoices = await payments.stripe.invoices
      .list({ limit: 100 })
      .autoPagingToArray({ limit: 10 * ACCOUNTS });
    const ofPeriod = invoices.filter((invoice) => invoice.metadata?.period === PERIOD);
    check(report.due === ACCOUNTS, `due ${report.due}, expected ${ACCOUNTS}`);
    check(
      JSON.stringify(report.outcomes) === JSON.stringify({ invoiced: ACCOUNTS }),
      `outcomes ${JSON.stringify(report.outcomes)}`,
    );
    check(
      queue.stats.invocations >= Math.ceil(ACCOUNTS / 10),
      `${queue.stats.invocations} worker invocations`,
    );
    check(queue.stats.maxConcurrent > 1, `max ${queue.stats.maxConcurrent} batches at once`);
    check(ofPeriod.length === ACCOUNTS, `${ofPeriod.length} invoices for ${PERIOD}`);
    const invoiced = new Set(ofPeriod.map((invoice) => invoice.metadata?.account_id));
    check(
      invoiced.size === ACCOUNTS && accounts.every((id) => invoiced.has(id)),
      'not one invoice per account',
    );
    check(
      ofPeriod.every((invoice) => invoice.total === INVOICE_CENTS && invoice.status === 'open'),
      `an invoice not open at ${INVOICE_CENTS} cents`,
    );
    check(again.due === 0, `a second run found ${again.due} due`);

    const figures = {
      invoicing_accounts: ACCOUNTS,
      invoicing_run_s: Number(seconds.toFixed(1)),
      invoicing_accounts_per_s: Number((ACCOUNTS / seconds).toFixed(1)),
      invoicing_worker_invocations: queue.stats.invocations,
      invoicing_max_concurrent_batches: queue.stats.maxConcurrent,
      invoicing_seed_s: Number(seedSeconds.toFixed(1)),
      invoicing_outcome_errors: failures.length,
    };
    console.table(figures);
    mergeResults('postpaid_invoicing', figures);
  } finally {
    queue.uninstall();
    await payments.stop();
  }
} finally {
  await dynamo.stop();
}
if (failures.length > 0) {
  console.error(`postpaid invoicing bench: wrong outcomes:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
