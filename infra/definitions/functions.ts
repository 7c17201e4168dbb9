// Every Lambda function, declared once as data: its entry file and exactly what it may touch.
// The CDK API stack builds one house function per entry; the local stack imports the same entry files.

/** Item-level DynamoDB actions. TransactWriteItems is authorised per item action (Put/Update/ConditionCheck). */
export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:ConditionCheckItem'
  | 'dynamodb:Query'
  /** Only the reconciliation job: it checks every account, off any request path. */
  | 'dynamodb:Scan';

export type FunctionSpec = {
  /** Path of the module exporting `handler`, relative to the repository root. */
  entry: string;
  description: string;
  table: TableAction[];
  /** Query the table's sparse index GSI1. */
  tableIndexes?: boolean;
  /** PutEvents on the project's event bus. */
  publishesEvents?: boolean;
  /** Calls Stripe: reads the Stripe secret (STRIPE_SECRET_ARN) from Secrets Manager. */
  stripe?: boolean;
  /** Starts refills: sqs:SendMessage on the refill queue (REFILL_QUEUE_URL). */
  refillQueue?: boolean;
  /** Consumes the refill queue (an SQS event source). */
  refillWorker?: boolean;
  memoryMb?: number;
  timeoutSeconds?: number;
};

/** What every token-authenticated function needs: token lookup and its throttled last-use write. */
const tokenAuth: TableAction[] = ['dynamodb:GetItem', 'dynamodb:UpdateItem'];
/** Idempotency records: claim, complete, release, and forget after a refused (invalid) request. */
const idempotency: TableAction[] = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];
/** Charging transactions: account update, ledger put, usage update, hold update, reference guard. */
const charging: TableAction[] = ['dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:GetItem'];

function unique(actions: TableAction[]): TableAction[] {
  return [...new Set(actions)].sort();
}

export const functions = {
  demoEcho: {
    entry: 'functions/demo/echo.ts',
    description: 'Reference fixed-price feature POST /v1/demo/echo',
    table: unique([...tokenAuth, ...idempotency, ...charging]),
    publishesEvents: true,
    refillQueue: true,
  },
  demoWords: {
    entry: 'functions/demo/words.ts',
    description: 'Reference variable-price feature POST /v1/demo/words (hold, then settle)',
    table: unique([...tokenAuth, ...idempotency, ...charging]),
    publishesEvents: true,
    refillQueue: true,
  },
  credits: {
    entry: 'functions/account/credits.ts',
    description: 'GET /v1/credits',
    table: unique([...tokenAuth]),
  },
  usage: {
    entry: 'functions/account/usage.ts',
    description: 'GET /v1/usage',
    table: unique([...tokenAuth, 'dynamodb:Query']),
  },
  transactions: {
    entry: 'functions/account/transactions.ts',
    description: 'GET /v1/transactions',
    table: unique([...tokenAuth, 'dynamodb:Query']),
  },
  tokens: {
    entry: 'functions/account/tokens.ts',
    description: 'Create, list and revoke API tokens',
    table: unique([...tokenAuth, 'dynamodb:PutItem', 'dynamodb:Query']),
  },
  adminAccounts: {
    entry: 'functions/admin/accounts.ts',
    description: 'Operator API: accounts, grants and corrections, billing mode',
    table: unique([...idempotency, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem']),
    publishesEvents: true,
  },
  billingPurchases: {
    entry: 'functions/billing/purchases.ts',
    description: 'Buy credits: POST /v1/billing/checkout, GET /v1/billing/purchases[/{id}]',
    table: unique([...tokenAuth, ...idempotency, ...charging, 'dynamodb:Query']),
    publishesEvents: true,
    stripe: true,
  },
  billingReturn: {
    entry: 'functions/billing/checkout-return.ts',
    description: "Stripe's success redirect: follows the checkout up and shows a page",
    table: unique([...charging]),
    publishesEvents: true,
    stripe: true,
  },
  billingAutoRefill: {
    entry: 'functions/billing/auto-refill.ts',
    description: 'GET / PUT /v1/billing/auto-refill',
    table: unique([...tokenAuth]),
    refillQueue: true,
  },
  stripeWebhook: {
    entry: 'functions/webhooks/stripe.ts',
    description: 'POST /webhooks/stripe: signed Stripe events',
    table: unique([...charging, 'dynamodb:DeleteItem']),
    publishesEvents: true,
    stripe: true,
    timeoutSeconds: 20,
  },
  refillWorker: {
    entry: 'functions/workers/refill.ts',
    description:
      'Auto-refill: charges the saved method off-session for accounts a debit took below threshold',
    table: unique([...charging]),
    publishesEvents: true,
    stripe: true,
    refillWorker: true,
    timeoutSeconds: 30,
  },
  autoRefillSweep: {
    entry: 'functions/jobs/auto-refill.ts',
    description: 'Scheduled: refills every account marked due (the safety net of the prompt trigger)',
    table: unique([...charging, 'dynamodb:Query']),
    tableIndexes: true,
    publishesEvents: true,
    stripe: true,
    timeoutSeconds: 300,
  },
  notFound: {
    entry: 'functions/not-found.ts',
    description: 'Answers unknown routes with the contract 404 body',
    table: [],
    memoryMb: 256,
  },
  expireHolds: {
    entry: 'functions/jobs/expire-holds.ts',
    description: 'Scheduled: releases holds that were never settled',
    table: unique(['dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:GetItem']),
    tableIndexes: true,
    timeoutSeconds: 60,
  },
  reconcile: {
    entry: 'functions/jobs/reconcile.ts',
    description: 'Scheduled: recomputes every balance from the ledger and reports drift',
    table: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan'],
    timeoutSeconds: 900,
    memoryMb: 1024,
  },
} as const satisfies Record<string, FunctionSpec>;

export type FunctionName = keyof typeof functions;
