// Timeouts that fit inside each other: every API function ends before HTTP API gives up, and every inner wait
// (SDK calls with their retries, Stripe, the idempotency wait) ends before its function's own timeout.
import { describe, expect, it } from 'vitest';
import { type FunctionSpec, functions } from '#infra/definitions/functions.ts';
import { routes } from '#infra/definitions/routes.ts';
import {
  API_TIMEOUT_CAP_SECONDS,
  apiFunctionNames,
  awsCalls,
  awsCallWorstMs,
  budgetOf,
  budgets,
  IDEMPOTENCY_LEASE_MS,
  stripeCalls,
  stripeCallWorstMs,
  timeoutProblems,
  timeoutSecondsOf,
  transactionPausesWorstMs,
} from '#infra/definitions/timeouts.ts';
import { LEASE_MS as REFILL_LEASE_MS } from '#shared/auto-refill/types.ts';
import { DEFAULT_LEASE_MS as METERING_LEASE_MS } from '#shared/marketplace/metering.ts';
import { INVOICE_LEASE_MS } from '#shared/postpaid/invoicing.ts';

const specs = Object.entries(functions) as [string, FunctionSpec][];
const api = apiFunctionNames(routes);
const apiSpecs = specs.filter(([name]) => api.has(name));

describe('function timeouts', () => {
  it('knows the API functions from the route table, including the operator ones', () => {
    expect(api).toContain('adminMarketplace');
    expect(api).toContain('billingPurchases');
    expect(api).not.toContain('reconcile');
  });

  it.each(apiSpecs)('%s (an API function) ends within 29 s', (_name, spec) => {
    expect(timeoutSecondsOf(spec)).toBeLessThanOrEqual(API_TIMEOUT_CAP_SECONDS);
  });

  it.each(specs)('%s: its slowest dependency and fixed waits leave the answer margin', (name, spec) => {
    const budget = budgetOf(spec, api.has(name));
    expect(budget.neededMs).toBeLessThanOrEqual(budget.timeoutMs);
  });

  it('finds no problem in the declared functions', () => {
    expect(timeoutProblems(functions, routes)).toEqual([]);
  });

  it('counts a proxy route’s upstream timeout in its function’s budget, and refuses one that does not fit', () => {
    const proxy = routes.find((route) => route.proxy)!;
    const within = budgetOf(functions.proxy, true, budgets, proxy.proxy!.timeoutMs);
    expect(within.slowest?.what).toBe('Secrets Manager read');
    const slow = { ...proxy, proxy: { ...proxy.proxy!, timeoutMs: 25_000 } };
    expect(timeoutProblems(functions, [...routes, slow])).toEqual([
      expect.stringMatching(/^proxy: .*upstream call 25 s.* over its timeout of 29 s$/),
    ]);
    expect(timeoutProblems(functions, [{ ...slow, function: 'credits' }])).toContain(
      'credits serves a proxy route but its spec does not say proxy',
    );
  });

  it.each(apiSpecs)('%s: an idempotency lease outlives the attempt that holds it', (_name, spec) => {
    expect(IDEMPOTENCY_LEASE_MS).toBeGreaterThan(timeoutSecondsOf(spec) * 1000);
  });

  it('holds every worker lease longer than the function that holds it can run', () => {
    expect(REFILL_LEASE_MS).toBeGreaterThan(timeoutSecondsOf(functions.refillWorker) * 1000);
    expect(INVOICE_LEASE_MS).toBeGreaterThan(timeoutSecondsOf(functions.invoiceWorker) * 1000);
    expect(METERING_LEASE_MS).toBeGreaterThan(timeoutSecondsOf(functions.marketplaceMetering) * 1000);
  });
});

describe('worst cases of one call', () => {
  it('counts every attempt at its timeout and the longest pause before each retry', () => {
    // 3 × 1.5 s, then pauses of at most 1 s and 2 s (throttled).
    expect(awsCallWorstMs({ connectionTimeoutMs: 1, requestTimeoutMs: 1_500, maxAttempts: 3 })).toBe(7_500);
    expect(awsCallWorstMs({ connectionTimeoutMs: 1, requestTimeoutMs: 5_000, maxAttempts: 1 })).toBe(5_000);
    // stripe-node: two attempts even with retries off (a closed connection), pauses of at least 0.5 s.
    expect(stripeCallWorstMs({ timeoutMs: 8_000, maxNetworkRetries: 0 })).toBe(16_500);
    expect(stripeCallWorstMs({ timeoutMs: 8_000, maxNetworkRetries: 3 })).toBe(4 * 8_000 + 500 + 500 + 1_000);
    // 7 pauses: 20, 40, 80, 160, 320, then capped at 400 twice.
    expect(transactionPausesWorstMs(budgets.transactions)).toBe(1_420);
  });

  it('makes the Stripe call the slowest wait of a Stripe function', () => {
    expect(budgetOf(functions.billingPurchases, true).slowest).toEqual({
      what: 'Stripe call',
      ms: stripeCallWorstMs(stripeCalls),
    });
    expect(budgetOf(functions.credits, true).slowest?.ms).toBe(awsCallWorstMs(awsCalls.dynamodb));
  });

  it("counts the dashboard URL's SSM read (3 s at worst) in the checkout functions, under their Stripe call", () => {
    expect(awsCallWorstMs(awsCalls.ssm)).toBe(3_000);
    const onlySsm = { ...functions.billingPurchases, stripe: false, publishesEvents: false, table: [] };
    expect(budgetOf(onlySsm, true).slowest).toEqual({ what: 'SSM parameter read', ms: 3_000 });
  });
});

describe('the check itself', () => {
  it('reports every Stripe function when the Stripe timeout is raised without their timeouts', () => {
    const slowStripe = {
      ...budgets,
      stripe: { ...budgets.stripe, timeoutMs: budgets.stripe.timeoutMs + 2_000 },
    };
    const over = timeoutProblems(functions, routes, slowStripe).map((problem) => problem.split(':')[0]);
    expect(over).toEqual(['billingPurchases', 'billingReturn', 'stripeWebhook']);
  });

  it('reports the API functions when the idempotency wait grows past their room', () => {
    const longWait = { ...budgets, idempotency: { ...budgets.idempotency, waitMs: 10_000 } };
    const over = timeoutProblems(functions, routes, longWait).map((problem) => problem.split(':')[0]);
    expect(over).toContain('credits');
    expect(over).not.toContain('reconcile');
  });

  it('reports a function timeout lowered below its waits, naming each of them', () => {
    const lowered = { ...functions, billingPurchases: { ...functions.billingPurchases, timeoutSeconds: 20 } };
    expect(timeoutProblems(lowered, routes)).toEqual([
      expect.stringMatching(
        /^billingPurchases: idempotency wait 5\.1 s \+ transaction retries 1\.42 s \+ Stripe call 16\.5 s \+ answer margin 2 s = 25\.02 s, over its timeout of 20 s$/,
      ),
    ]);
  });

  it('reports an API function over 29 s, and one that outlives the idempotency lease', () => {
    const slow = { ...functions, credits: { ...functions.credits, timeoutSeconds: 30 } };
    expect(timeoutProblems(slow, routes)).toEqual([
      'credits serves HTTP routes but times out after 30 s, over 29 s',
      'credits can run 30 s, as long as the idempotency lease (30 s)',
    ]);
  });

  it('lets a function no route names run long', () => {
    const long = { ...functions, credits: { ...functions.credits, timeoutSeconds: 300 } };
    expect(
      timeoutProblems(
        long,
        routes.filter((route) => route.function !== 'credits'),
      ),
    ).toEqual([]);
  });
});
