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

/** AWS Marketplace Metering actions: they take no resource ARN, so each function gets only those it calls. */
export type MarketplaceAction =
  | 'aws-marketplace:ResolveCustomer'
  | 'aws-marketplace:BatchMeterUsage'
  /** Only the functions that grant a contract's credits (registration, lifecycle events). */
  | 'aws-marketplace:GetEntitlements';

export type FunctionSpec = {
  /** Path of the module exporting `handler`, relative to the repository root. */
  entry: string;
  description: string;
  table: TableAction[];
  /** Query the table's sparse index GSI1. */
  tableIndexes?: boolean;
  /** PutEvents on the project's event bus: only the event delivery consumer (the others record events). */
  publishesEvents?: boolean;
  /** Consumes the table's stream (infra/definitions/streams.ts): reads the stream, reports failed batches. */
  streamConsumer?: boolean;
  /** Calls Stripe: reads the Stripe secret (STRIPE_SECRET_ARN) from Secrets Manager. */
  stripe?: boolean;
  /**
   * Opens Stripe Checkout sessions (with `stripe`): reads the dashboard's URL from the SSM parameter the dashboard
   * stack publishes (DASHBOARD_URL_PARAMETER), to accept return URLs on its origin and for Stripe's default pages.
   */
  dashboardUrl?: boolean;
  /** Signs and verifies pagination cursors: reads the cursor signing key (CURSOR_SECRET_ARN). */
  cursors?: boolean;
  /** Starts refills: sqs:SendMessage on the refill queue (REFILL_QUEUE_URL). */
  refillQueue?: boolean;
  /** Consumes the refill queue (an SQS event source). */
  refillWorker?: boolean;
  /** Fans out postpaid invoicing: sqs:SendMessage on the invoice queue (INVOICE_QUEUE_URL). */
  invoiceQueue?: boolean;
  /** Consumes the invoice queue (an SQS event source with bounded concurrency: Stripe's rate limits). */
  invoiceWorker?: boolean;
  /** Queues webhook delivery attempts: sqs:SendMessage on the webhook queue (WEBHOOK_QUEUE_URL). */
  webhookQueue?: boolean;
  /** Consumes the webhook queue (an SQS event source): one message is one attempt of one delivery. */
  webhookWorker?: boolean;
  /**
   * Consumes the notification queue (every billing event, from a rule on the project's bus) and sends email
   * through Amazon SES, from the configured sender only (NOTIFY_FROM; see infra/constructs/house-function.ts).
   */
  notificationWorker?: boolean;
  /**
   * Sends email itself, outside the notification queue (sign-in links, invitations, sign-up links): SES
   * SendEmail from the configured sender only, with the notification worker's email settings (NOTIFY_FROM,
   * SES_CONFIGURATION_SET, PUBLIC_BASE_URL).
   */
  sendsEmail?: boolean;
  /**
   * Serves metered proxy routes: forwards to the routes' upstreams (PROXY_UPSTREAMS: base URL and signing
   * secret of each) and reads each upstream's secret from Secrets Manager.
   */
  proxy?: boolean;
  /** Calls the AWS Marketplace Metering Service with exactly these actions (and gets the MARKETPLACE_* settings). */
  marketplace?: MarketplaceAction[];
  memoryMb?: number;
  /**
   * Default DEFAULT_TIMEOUT_SECONDS. Every inner wait must fit inside it, and a function a route names must end
   * within 29 s (infra/definitions/timeouts.ts; test/infra/timeouts.test.ts checks both).
   */
  timeoutSeconds?: number;
};

/**
 * What every token-authenticated function needs: token lookup and its throttled last-use write, and the
 * account's balance read (a sharded account's shards: TransactGetItems, BatchGetItem when that conflicts).
 */
const tokenAuth: TableAction[] = ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:BatchGetItem'];
/** Idempotency records: claim, complete, release, and forget after a refused (invalid) request. */
export const idempotency: TableAction[] = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];
/**
 * Charging transactions: account update, ledger put, usage update, hold update, reference guard; the balance
 * shards of a hot account read together (BatchGetItem) when a shard refuses and after a charge.
 */
const charging: TableAction[] = [
  'dynamodb:UpdateItem',
  'dynamodb:PutItem',
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
];

function unique(actions: TableAction[]): TableAction[] {
  return [...new Set(actions)].sort();
}

export const functions = {
  demoEcho: {
    entry: 'functions/demo/echo.ts',
    description: 'Reference fixed-price feature POST /v1/demo/echo',
    table: unique([...tokenAuth, ...idempotency, ...charging]),
    refillQueue: true,
  },
  demoWords: {
    entry: 'functions/demo/words.ts',
    description: 'Reference variable-price feature POST /v1/demo/words (hold, then settle)',
    table: unique([...tokenAuth, ...idempotency, ...charging]),
    refillQueue: true,
  },
  proxy: {
    entry: 'functions/proxy.ts',
    description: 'Metered proxy routes: pay first, forward signed to the upstream, charge its 2xx answers',
    table: unique([...tokenAuth, ...charging]),
    refillQueue: true,
    proxy: true,
    // Room for the longest upstream timeout a route may have (timeouts.ts checks) within HTTP API's 29 s.
    timeoutSeconds: 29,
  },
  meter: {
    entry: 'functions/meter/meter.ts',
    description: "Metering API: the operator's backends charge, hold, settle and release (service keys)",
    // Service-key and customer-token lookups, the account read, and the charging transactions.
    table: unique([...tokenAuth, ...idempotency, ...charging]),
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
    cursors: true,
  },
  audit: {
    entry: 'functions/account/audit.ts',
    description: 'GET /v1/audit: the audit trail of billing changes',
    // Reads only: the entries are written by the functions whose changes they record.
    table: unique([...tokenAuth, 'dynamodb:Query']),
    cursors: true,
  },
  prices: {
    entry: 'functions/prices.ts',
    description: 'GET /v1/prices: the public price list, from the price catalog',
    // Public, and reads only the catalog (bundled, or PRICE_CATALOG): no table, no events.
    table: [],
    memoryMb: 256,
  },
  tokens: {
    entry: 'functions/account/tokens.ts',
    description: 'Create, list and revoke API tokens',
    // ConditionCheckItem: starting the active-token counter of an account opened before it (each counted
    // token checked still active), and a revocation on such an account (checked to have no counter yet).
    table: unique([
      ...tokenAuth,
      ...idempotency,
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:ConditionCheckItem',
    ]),
  },
  members: {
    entry: 'functions/account/members.ts',
    description: 'Members: invite (with an email), list, change role, remove',
    // Member, person and counter items in one transaction (Put, Update, Delete), listing by Query, the
    // account's name for the invitation (GetItem). Sends the invitation email.
    table: unique([
      ...tokenAuth,
      ...idempotency,
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:Query',
    ]),
    sendsEmail: true,
    dashboardUrl: true,
  },
  signup: {
    entry: 'functions/signup/signup.ts',
    description: 'POST /auth/signup: self-serve sign-up (SELF_SIGNUP), emails the link that opens an account',
    // The /auth rate counters (UpdateItem) and the pending sign-up's link item (PutItem).
    table: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
    sendsEmail: true,
    dashboardUrl: true,
  },
  adminAccounts: {
    entry: 'functions/admin/accounts.ts',
    description: 'Operator API: accounts (with their first owner, invited by email), grants, billing mode',
    table: unique([
      ...idempotency,
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
    ]),
    sendsEmail: true,
    dashboardUrl: true,
  },
  adminServiceKeys: {
    entry: 'functions/admin/service-keys.ts',
    description: 'Operator API: service keys for the metering API (create, list, revoke)',
    // Lookup and record puts and revocation updates (one transaction each), listing by Query.
    table: unique([...idempotency, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query']),
  },
  billingPurchases: {
    entry: 'functions/billing/purchases.ts',
    description: 'Buy credits: POST /v1/billing/checkout, GET /v1/billing/purchases[/{id}]',
    table: unique([...tokenAuth, ...idempotency, ...charging, 'dynamodb:Query']),
    stripe: true,
    dashboardUrl: true,
    timeoutSeconds: 26,
  },
  billingReturn: {
    entry: 'functions/billing/checkout-return.ts',
    description: "Stripe's success redirect: follows the checkout up and shows a page",
    table: unique([...charging]),
    stripe: true,
    timeoutSeconds: 26,
  },
  billingAutoRefill: {
    entry: 'functions/billing/auto-refill.ts',
    description: 'GET / PUT /v1/billing/auto-refill',
    // PutItem: the audit entry, written in the settings' transaction.
    table: unique([...tokenAuth, 'dynamodb:PutItem']),
    refillQueue: true,
  },
  notifications: {
    entry: 'functions/account/notifications.ts',
    description: 'GET/PUT /v1/notifications: who is emailed about billing, and for what',
    table: unique([...tokenAuth, 'dynamodb:PutItem']),
  },
  webhookEndpoints: {
    entry: 'functions/account/webhook-endpoints.ts',
    description: 'Webhook endpoints: create, list, delete, delivery log, send a test event',
    // Endpoint and counter items (one transaction), delivery items of a test event, listings by Query.
    table: unique([
      ...tokenAuth,
      ...idempotency,
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:Query',
    ]),
    webhookQueue: true,
  },
  billingSpendLimit: {
    entry: 'functions/billing/spend-limit.ts',
    description: "PUT /v1/billing/spend-limit: a postpaid account's monthly spend limit",
    // PutItem: the audit entry, written in the limit's transaction.
    table: unique([...tokenAuth, 'dynamodb:PutItem']),
  },
  stripeWebhook: {
    entry: 'functions/webhooks/stripe.ts',
    description: 'POST /webhooks/stripe: signed Stripe events',
    // ConditionCheckItem: an invoice's unpaid mark on the account is checked against its period item.
    table: unique([...charging, 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem']),
    stripe: true,
    timeoutSeconds: 26,
  },
  refillWorker: {
    entry: 'functions/workers/refill.ts',
    description:
      'Auto-refill: charges the saved method off-session for accounts a debit took below threshold',
    table: unique([...charging]),
    stripe: true,
    dashboardUrl: true,
    refillWorker: true,
    timeoutSeconds: 30,
  },
  autoRefillSweep: {
    entry: 'functions/jobs/auto-refill.ts',
    description: 'Scheduled: refills every account marked due (the safety net of the prompt trigger)',
    table: unique([...charging, 'dynamodb:Query']),
    tableIndexes: true,
    stripe: true,
    dashboardUrl: true,
    timeoutSeconds: 300,
  },
  billingInvoices: {
    entry: 'functions/billing/invoices.ts',
    description: 'GET /v1/billing/invoices: postpaid invoices, newest first',
    table: unique([...tokenAuth, 'dynamodb:Query']),
  },
  postpaidInvoices: {
    entry: 'functions/jobs/postpaid-invoices.ts',
    description: 'Scheduled: queues every closed postpaid period still due for an invoice (the fan-out)',
    table: ['dynamodb:Query'],
    tableIndexes: true,
    invoiceQueue: true,
    timeoutSeconds: 900,
  },
  invoiceWorker: {
    entry: 'functions/workers/invoice.ts',
    description:
      "Postpaid invoicing: one account's closed period, claimed and invoiced on Stripe exactly once",
    // Claim transaction (period and account updates, carry), checkpoints, the unpaid-invoice check.
    table: unique([...charging, 'dynamodb:ConditionCheckItem']),
    stripe: true,
    invoiceWorker: true,
    timeoutSeconds: 60,
  },
  webhookDelivery: {
    entry: 'functions/workers/webhook-delivery.ts',
    description:
      "Webhook deliveries: one attempt per message, signed (Standard Webhooks), to a customer's endpoint",
    // Delivery and endpoint reads and updates; disabling an endpoint records its event (Put) in a transaction.
    table: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    webhookQueue: true,
    webhookWorker: true,
    timeoutSeconds: 30,
  },
  marketplaceRegister: {
    entry: 'functions/marketplace/register.ts',
    description: 'POST /marketplace/register: AWS Marketplace buyers land here (account, token)',
    // Lookup, account, buyer and token puts; token count on a repeated registration; re-subscription;
    // the check that the lifecycle facts remembered before the registration are unchanged.
    table: unique([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:Query',
      'dynamodb:ConditionCheckItem',
    ]),
    // ResolveCustomer, then a contract buyer's entitlements (granted as credits at registration).
    marketplace: ['aws-marketplace:ResolveCustomer', 'aws-marketplace:GetEntitlements'],
    // The entitlement read's retries (timeouts.ts `entitlementReads`) are its slowest wait.
    timeoutSeconds: 20,
  },
  marketplaceLifecycle: {
    entry: 'functions/marketplace/lifecycle.ts',
    description: 'AWS Marketplace subscription events: the status, then the final usage of an ended one',
    // Status change (account + buyer); a fact about a buyer not registered yet (put, with a check that it
    // has no account); the flush: hour records, claims, carry, marks.
    table: unique([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:Query',
      'dynamodb:ConditionCheckItem',
    ]),
    // The final usage of an ended pay-as-you-go subscription; a contract buyer's entitlements on every event.
    marketplace: ['aws-marketplace:BatchMeterUsage', 'aws-marketplace:GetEntitlements'],
    timeoutSeconds: 60,
  },
  marketplaceMetering: {
    entry: 'functions/jobs/marketplace-metering.ts',
    description: 'Scheduled hourly: reports every buyer-hour to AWS Marketplace, with backfill',
    table: unique(['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query']),
    tableIndexes: true,
    marketplace: ['aws-marketplace:BatchMeterUsage'],
    timeoutSeconds: 300,
    memoryMb: 1024,
  },
  adminMarketplace: {
    entry: 'functions/admin/marketplace.ts',
    description: "Operator API: AWS Marketplace reconciliation, and contract buyers' grants",
    table: ['dynamodb:Query', 'dynamodb:GetItem'],
    tableIndexes: true,
    // The most an API function may have: HTTP API waits 30 s. Long ranges of many buyers need a narrower query.
    timeoutSeconds: 29,
  },
  openapi: {
    entry: 'functions/openapi.ts',
    description: 'GET /openapi.json: the OpenAPI document of the API (docs/openapi.json, bundled)',
    table: [],
    memoryMb: 256,
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
    table: [
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:Query',
      'dynamodb:Scan',
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
    ],
    timeoutSeconds: 900,
    memoryMb: 1024,
  },
  auth: {
    entry: 'functions/auth/auth.ts',
    description: 'Email sign-in: links, the session cookie, logout, the session account (switch)',
    // Link put and use (Put, Update), the /auth rate counters (Update), memberships (Query), member and account
    // reads (Get), invited → active (Update), sessions (Put, Get, Update, Delete); a followed sign-up link
    // opens its account and grants the sign-up credits (the ledger's transaction and balance reads).
    table: unique([
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:Query',
    ]),
    dashboardUrl: true,
    sendsEmail: true,
  },
  notify: {
    entry: 'functions/workers/notify.ts',
    description:
      'Notifications: turns each billing event into its emails (SES) and customer webhook deliveries, once each',
    // Settings, status and token reads; the per-recipient email claims (put, settle) and the status writes;
    // the account's webhook endpoints (Query) and one delivery item per event and endpoint, then queued.
    table: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
    dashboardUrl: true,
    notificationWorker: true,
    webhookQueue: true,
    timeoutSeconds: 60,
  },
  sesFeedback: {
    entry: 'functions/workers/ses-feedback.ts',
    description:
      "SES bounces and complaints of notification emails (default bus): recorded on the account's notification status",
    table: ['dynamodb:UpdateItem'],
  },
  eventDelivery: {
    entry: 'functions/streams/events.ts',
    description: 'Stream consumer: puts the billing events recorded in the table on the event bus',
    table: [],
    publishesEvents: true,
    streamConsumer: true,
  },
  usageRollups: {
    entry: 'functions/streams/usage-rollups.ts',
    description:
      'Stream consumer: sums new ledger entries into the usage rollups, postpaid period items and Marketplace hour records',
    // TransactWriteItems of entry markers (Put) and rollup, period, hour and watermark increments (Update).
    // The low-balance alert (shared/notifications/low-balance.ts): settings and alert state (BatchGetItem,
    // GetItem), the balance (GetItem; a sharded one's shards: TransactGetItems, or BatchGetItem when that
    // conflicts), the alert's flip (Update) with its event (Put).
    table: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem', 'dynamodb:BatchGetItem'],
    streamConsumer: true,
  },
} as const satisfies Record<string, FunctionSpec>;

export type FunctionName = keyof typeof functions;
