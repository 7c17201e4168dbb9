// Every wait, declared once: a function's Lambda timeout when its spec sets none, and inside each function the
// budget of every call it makes (AWS SDK clients, Stripe, the idempotency wait, transaction retries). The CDK
// stacks and the local stack read the timeouts, the runtime clients read their budgets from here, and
// `timeoutProblems` (run by test/infra/timeouts.test.ts) proves each function's worst case ends before its own
// timeout with room to answer. Lambda bundles import this module, so it imports types only.
import type { FunctionSpec } from './functions.ts';
import type { Route } from './routes.ts';

/** A function's timeout when its spec sets none, in the cloud and in the local stack alike. */
export const DEFAULT_TIMEOUT_SECONDS = 15;

/** HTTP API gives up on an integration after 30 s; an API function must have answered by then. */
export const API_TIMEOUT_CAP_SECONDS = 29;

/**
 * Left over after a function's worst inner wait: mapping the failure to the contract's error body, releasing
 * an idempotency key, flushing metrics and logging take one or two fast calls, never a stalled one.
 */
export const ANSWER_MARGIN_MS = 2_000;

/** One AWS SDK client's budget, applied as `requestHandler` and `maxAttempts` (see `awsClientConfig`). */
export type AwsCallBudget = {
  connectionTimeoutMs: number;
  /** One attempt, from the request's start to its last byte (connecting included). */
  requestTimeoutMs: number;
  /** Attempts, the first included (the SDK's standard retry mode). */
  maxAttempts: number;
};

export const awsCalls = {
  dynamodb: { connectionTimeoutMs: 1_000, requestTimeoutMs: 1_000, maxAttempts: 3 },
  eventBridge: { connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000, maxAttempts: 2 },
  sqs: { connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000, maxAttempts: 2 },
  secretsManager: { connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000, maxAttempts: 3 },
  /** The dashboard's URL: a checkout that cannot read it in time goes on without it (PUBLIC_BASE_URL only). */
  ssm: { connectionTimeoutMs: 1_000, requestTimeoutMs: 1_000, maxAttempts: 2 },
  /** Notification emails: throttling is retried here, then by the notification queue's redelivery. */
  ses: { connectionTimeoutMs: 1_000, requestTimeoutMs: 5_000, maxAttempts: 3 },
  /** One attempt: the metering job backs off and re-sends throttled calls and unprocessed records itself. */
  marketplaceMetering: { connectionTimeoutMs: 1_000, requestTimeoutMs: 5_000, maxAttempts: 1 },
  /** One attempt per call: shared/marketplace/entitlements.ts backs off and tries again itself (`entitlementReads`). */
  marketplaceEntitlement: { connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000, maxAttempts: 1 },
} as const satisfies Record<string, AwsCallBudget>;

/** Reading a contract's entitlements: attempts (each a page's call) and the full-jitter backoff between them. */
export const entitlementReads = { maxAttempts: 3, baseMs: 200, capMs: 1_000 } as const;

export type StripeCallBudget = { timeoutMs: number; maxNetworkRetries: number };

/** The Stripe SDK's `timeout` (per attempt) and `maxNetworkRetries`. */
export const stripeCalls = { timeoutMs: 8_000, maxNetworkRetries: 1 } as const satisfies StripeCallBudget;

/** How long a request waits for an earlier attempt holding its Idempotency-Key to finish, and how often it looks. */
export const idempotencyWait = { waitMs: 5_000, pollMs: 100 } as const;

/**
 * How long an attempt holds an Idempotency-Key before another may take it over: longer than any API function
 * can run, so a takeover never runs next to a live attempt.
 */
export const IDEMPOTENCY_LEASE_MS = 30_000;

export type TransactionRetries = { maxAttempts: number; baseMs: number; capMs: number };

/** `transactWrite`'s own retries of conflicting transactions: full jitter, `baseMs`·2^attempt up to `capMs`. */
export const transactionRetries = {
  maxAttempts: 8,
  baseMs: 10,
  capMs: 400,
} as const satisfies TransactionRetries;

/** Everything inside a function, as one value: the check takes it as a parameter so a test can change it. */
export type Budgets = {
  aws: Record<keyof typeof awsCalls, AwsCallBudget>;
  stripe: StripeCallBudget;
  idempotency: { waitMs: number; pollMs: number };
  transactions: TransactionRetries;
};

export const budgets: Budgets = {
  aws: awsCalls,
  stripe: stripeCalls,
  idempotency: idempotencyWait,
  transactions: transactionRetries,
};

/** The client options that apply a budget (an SDK v3 client accepts the handler's options as `requestHandler`). */
export function awsClientConfig(budget: AwsCallBudget) {
  return {
    maxAttempts: budget.maxAttempts,
    requestHandler: {
      connectionTimeout: budget.connectionTimeoutMs,
      requestTimeout: budget.requestTimeoutMs,
      // Without it a request past requestTimeout is only logged as a warning and keeps waiting.
      throwOnRequestTimeout: true,
    },
  };
}

/**
 * The longest one AWS SDK call can take: every attempt runs to its request timeout, and every pause before a
 * retry is the longest the installed SDK's standard mode picks, which is after a throttling error (1 s base,
 * doubling, at most 20 s). A `retry-after` hint would lengthen a pause by up to 5 s more; none of these services
 * sends one.
 */
export function awsCallWorstMs(budget: AwsCallBudget): number {
  let pauses = 0;
  for (let retry = 0; retry < budget.maxAttempts - 1; retry++) pauses += Math.min(1_000 * 2 ** retry, 20_000);
  return budget.maxAttempts * budget.requestTimeoutMs + pauses;
}

/**
 * The longest one Stripe call can take. stripe-node retries a closed connection once even with retries off,
 * so there are at least two attempts; each may wait `timeout` for the socket; the pause before retry n (from 0)
 * is at most max(0.5 s, min(0.5 s·2^(n-1), 5 s)).
 */
export function stripeCallWorstMs(budget: StripeCallBudget): number {
  const retries = Math.max(budget.maxNetworkRetries, 1);
  let pauses = 0;
  for (let n = 0; n < retries; n++) pauses += 1_000 * Math.max(0.5, Math.min(0.5 * 2 ** (n - 1), 5));
  return (retries + 1) * budget.timeoutMs + pauses;
}

/** The longest `transactWrite` sleeps between conflicting attempts (the attempts themselves are fast failures). */
export function transactionPausesWorstMs(retries: TransactionRetries): number {
  let pauses = 0;
  for (let attempt = 1; attempt < retries.maxAttempts; attempt++) {
    pauses += Math.min(retries.capMs, retries.baseMs * 2 ** attempt);
  }
  return pauses;
}

export function timeoutSecondsOf(spec: Pick<FunctionSpec, 'timeoutSeconds'>): number {
  return spec.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
}

/** Functions a route names: HTTP API invokes them and waits at most 30 s. */
export function apiFunctionNames(routes: readonly Pick<Route, 'function'>[]): Set<string> {
  return new Set(routes.map((route) => route.function));
}

/** shared/webhook-endpoints/post.ts DELIVERY_TIMEOUT_MS plus a DNS lookup's worst (5 s). */
export const WEBHOOK_ATTEMPT_WORST_MS = 15_000;

export type Wait = { what: string; ms: number };

/** The budgets that make up one function's worst request or run, and what they add up to. */
export type FunctionBudget = {
  timeoutMs: number;
  /** Waits every worst case contains: the idempotency wait, transaction retries. */
  fixed: Wait[];
  /** The function's slowest single dependency: one stalled dependency at a time. */
  slowest: Wait | undefined;
  /** fixed + slowest + ANSWER_MARGIN_MS. */
  neededMs: number;
};

const WRITES = new Set(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']);

/** The calls a function's spec lets it make, each at its worst; `upstreamMs`: its proxy routes' longest timeout. */
function dependencyWaits(spec: FunctionSpec, { aws, stripe }: Budgets, upstreamMs?: number): Wait[] {
  const waits: Wait[] = [];
  if (upstreamMs !== undefined) waits.push({ what: 'upstream call', ms: upstreamMs });
  if (spec.proxy) waits.push({ what: 'Secrets Manager read', ms: awsCallWorstMs(aws.secretsManager) });
  if (spec.table.length > 0) waits.push({ what: 'DynamoDB call', ms: awsCallWorstMs(aws.dynamodb) });
  if (spec.stripe) {
    waits.push({ what: 'Stripe call', ms: stripeCallWorstMs(stripe) });
    waits.push({ what: 'Secrets Manager read', ms: awsCallWorstMs(aws.secretsManager) });
  }
  if (spec.dashboardUrl) waits.push({ what: 'SSM parameter read', ms: awsCallWorstMs(aws.ssm) });
  if (spec.publishesEvents) waits.push({ what: 'EventBridge put', ms: awsCallWorstMs(aws.eventBridge) });
  if (spec.refillQueue || spec.invoiceQueue || spec.webhookQueue) {
    waits.push({ what: 'SQS send', ms: awsCallWorstMs(aws.sqs) });
  }
  // A webhook attempt: DNS, then the receiver's answer, cut at DELIVERY_TIMEOUT_MS.
  if (spec.webhookWorker) waits.push({ what: 'webhook attempt', ms: WEBHOOK_ATTEMPT_WORST_MS });
  if (spec.marketplace?.some((action) => action !== 'aws-marketplace:GetEntitlements')) {
    waits.push({ what: 'Marketplace Metering call', ms: awsCallWorstMs(aws.marketplaceMetering) });
  }
  if (spec.marketplace?.includes('aws-marketplace:GetEntitlements')) {
    // Every attempt stalls to its timeout, with the longest pause between attempts.
    const { maxAttempts, capMs } = entitlementReads;
    waits.push({
      what: 'Marketplace entitlements read',
      ms: maxAttempts * awsCallWorstMs(aws.marketplaceEntitlement) + (maxAttempts - 1) * capMs,
    });
  }
  return waits;
}

/**
 * One function's worst case: a stalled dependency uses up its whole budget (attempts and pauses) and its
 * failure ends the request or run, while everything else answers at normal speed. API functions count the
 * idempotency wait whether or not their routes honour Idempotency-Key: cheaper than a second list of those
 * routes kept in step with the handlers.
 */
export function budgetOf(
  spec: FunctionSpec,
  api: boolean,
  within: Budgets = budgets,
  upstreamMs?: number,
): FunctionBudget {
  const fixed: Wait[] = [];
  if (api)
    fixed.push({ what: 'idempotency wait', ms: within.idempotency.waitMs + within.idempotency.pollMs });
  if (spec.table.some((action) => WRITES.has(action))) {
    fixed.push({ what: 'transaction retries', ms: transactionPausesWorstMs(within.transactions) });
  }
  const slowest = dependencyWaits(spec, within, upstreamMs).reduce<Wait | undefined>(
    (worst, wait) => (worst && worst.ms >= wait.ms ? worst : wait),
    undefined,
  );
  const neededMs = fixed.reduce((sum, wait) => sum + wait.ms, 0) + (slowest?.ms ?? 0) + ANSWER_MARGIN_MS;
  return { timeoutMs: timeoutSecondsOf(spec) * 1000, fixed, slowest, neededMs };
}

const seconds = (ms: number) => `${ms / 1000} s`;

/** Every way the declared functions break the rules above; empty when all budgets fit. */
export function timeoutProblems(
  functions: Readonly<Record<string, FunctionSpec>>,
  routes: readonly Pick<Route, 'function' | 'proxy'>[],
  within: Budgets = budgets,
): string[] {
  const api = apiFunctionNames(routes);
  const problems: string[] = [];
  const upstreamMs = new Map<string, number>();
  for (const route of routes) {
    if (!route.proxy) continue;
    if (!functions[route.function]?.proxy) {
      problems.push(`${route.function} serves a proxy route but its spec does not say proxy`);
    }
    upstreamMs.set(route.function, Math.max(upstreamMs.get(route.function) ?? 0, route.proxy.timeoutMs));
  }
  for (const [name, spec] of Object.entries(functions)) {
    const budget = budgetOf(spec, api.has(name), within, upstreamMs.get(name));
    if (api.has(name) && budget.timeoutMs > API_TIMEOUT_CAP_SECONDS * 1000) {
      problems.push(
        `${name} serves HTTP routes but times out after ${seconds(budget.timeoutMs)}, over ${API_TIMEOUT_CAP_SECONDS} s`,
      );
    }
    if (budget.neededMs > budget.timeoutMs) {
      const parts = [...budget.fixed, ...(budget.slowest ? [budget.slowest] : [])]
        .map((wait) => `${wait.what} ${seconds(wait.ms)}`)
        .join(' + ');
      problems.push(
        `${name}: ${parts} + answer margin ${seconds(ANSWER_MARGIN_MS)} = ${seconds(budget.neededMs)}, over its timeout of ${seconds(budget.timeoutMs)}`,
      );
    }
    if (api.has(name) && IDEMPOTENCY_LEASE_MS <= budget.timeoutMs) {
      problems.push(
        `${name} can run ${seconds(budget.timeoutMs)}, as long as the idempotency lease (${seconds(IDEMPOTENCY_LEASE_MS)})`,
      );
    }
  }
  return problems;
}
