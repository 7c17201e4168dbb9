// The stateless half: one house function per function spec, the HTTP API built from the route table,
// the scheduled jobs, and the alarms. Everything is driven by the definitions in infra/definitions.
import {
  Annotations,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, type EventPattern, type IEventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  EventSourceMapping,
  type IDestination,
  type IEventSourceDlq,
  StartingPosition,
} from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import {
  ConfigurationSet,
  EmailSendingEvent,
  EventDestination,
  SuppressionReasons,
} from 'aws-cdk-lib/aws-ses';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { LambdaSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  creditDimensions,
  DEFAULT_MARKETPLACE_WINDOW_HOURS,
  MAX_MARKETPLACE_WINDOW_HOURS,
  MIN_MARKETPLACE_WINDOW_HOURS,
  type RateLimitVariable,
} from '#shared/config.ts';
import { EVENT_SOURCE } from '#shared/events/bus.ts';
import {
  HOUSE_DEFAULTS,
  HouseFunction,
  type MarketplaceSettings,
  type NotificationAccess,
  senderAddress,
} from '../constructs/house-function.ts';
import { lifecycleEventPattern } from '../constructs/marketplace-events.ts';
import { type FunctionName, type FunctionSpec, functions } from '../definitions/functions.ts';
import { jobs } from '../definitions/jobs.ts';
import { type Route, routeKey, routes } from '../definitions/routes.ts';
import { streamConsumers } from '../definitions/streams.ts';
import { tableSchema } from '../definitions/table.ts';

export type ApiStackProps = StackProps & {
  table: ITable;
  bus: IEventBus;
  /** The Stripe keys, read by the functions whose spec says `stripe` (known by its complete ARN). */
  stripeSecret: ISecret;
  /** The key that signs pagination cursors, read by the functions whose spec says `cursors`. */
  cursorSecret: ISecret;
  /**
   * PUBLIC_BASE_URL of the `stripe` functions, where Stripe sends the customer back (e.g. a custom domain).
   * Return URLs are accepted on its origin and on the dashboard's (read at run time from the dashboard stack's
   * SSM parameter); without it, Stripe's default pages use the dashboard's URL when that parameter exists.
   * @default CDK context `publicBaseUrl` (`cdk deploy -c publicBaseUrl=https://...`), else the HTTP API's endpoint
   */
  publicBaseUrl?: string;
  /**
   * AWS Marketplace: the product code (reports by CustomerIdentifier + ProductCode; without it, by licence:
   * CustomerAWSAccountId + LicenseArn), dimension, unit price, metering window, the product id (with the code,
   * what the lifecycle rule filters on) and the legacy SNS topics to subscribe to.
   * @default CDK context `marketplaceProductCode`, `marketplaceDimension`, `marketplaceUnitPrice`,
   * `marketplaceWindowHours`, `marketplaceProductId`, `marketplaceSnsTopicArns` (comma-separated); else
   * licence mode, `usage`, 0.001 USD, 6 hours, every product's events, no SNS
   */
  marketplace?: MarketplaceContext;
  /**
   * The metered proxy routes' upstreams: base URL and signing secret of each (buildApp reads them from CDK
   * context `proxyUpstreams`). A proxy route whose upstream is missing here is not deployed.
   * @default none
   */
  proxyUpstreams?: Record<string, { url: string; secret: ISecret }>;
  /** @default 'credits-billing' */
  serviceName?: string;
  /** @default 'CreditsBilling' */
  metricsNamespace?: string;
  /**
   * Default route throttling on the stage: the global ceiling over every caller, in front of the functions'
   * own per-token limits. @default CDK context `apiThrottleRps`, `apiThrottleBurst`, else 100 rps, 200 burst
   */
  throttle?: ThrottleSettings;
  /**
   * The rate limits the token-authenticated functions enforce (RATE_LIMIT_* in shared/config.ts), only those
   * given. @default CDK context `rateLimitRps`, `rateLimitBurst`, `rateLimitAccountRps`,
   * `rateLimitAccountBurst`, else the defaults of shared/config.ts (50/100 per token, 200/400 per account)
   */
  rateLimits?: Partial<Record<RateLimitVariable, number>>;
  /**
   * Block a postpaid account's calls this many days after an unpaid invoice's due date
   * (POSTPAID_OVERDUE_BLOCK_GRACE_DAYS). @default CDK context `postpaidOverdueBlockGraceDays`, else off
   */
  postpaidOverdueBlockGraceDays?: number;
};

/** A function whose slowest invocation reaches this share of its timeout raises its duration alarm. */
const NEAR_TIMEOUT = 0.85;
/**
 * The rollups (GET /v1/usage, postpaid period items, Marketplace hour records) may lag the ledger by seconds;
 * past this, the rollup consumer is stuck or throttled, and invoicing and metering wait for it.
 */
export const USAGE_ROLLUP_LAG_ALARM_MS = 5 * 60_000;

/**
 * Functions that EventBridge (or SNS) invokes asynchronously: the scheduled jobs and the Marketplace lifecycle
 * function. A failure after Lambda's retries goes to the job failure queue (their on-failure destination).
 */
export const ASYNCHRONOUSLY_INVOKED: readonly FunctionName[] = [
  ...new Set<FunctionName>([...jobs.map((job) => job.function), 'marketplaceLifecycle', 'sesFeedback']),
];

/** CDK context giving the public base URL of the deployment. */
export const PUBLIC_BASE_URL_CONTEXT = 'publicBaseUrl';

/**
 * The SSM parameter the dashboard stack publishes its URL in. Derived from the service name alone, so each stack
 * knows it without referring to the other (the dashboard stack already depends on this one).
 */
function dashboardUrlParameterName(serviceName: string): string {
  return `/${serviceName}/dashboard-url`;
}

export const DEFAULT_STAGE_THROTTLE: ThrottleSettings = { rateLimit: 100, burstLimit: 200 };

/** The functions' rate-limit variables, by the CDK context key that sets each. */
export const RATE_LIMIT_CONTEXT = {
  rateLimitRps: 'RATE_LIMIT_RPS',
  rateLimitBurst: 'RATE_LIMIT_BURST',
  rateLimitAccountRps: 'RATE_LIMIT_ACCOUNT_RPS',
  rateLimitAccountBurst: 'RATE_LIMIT_ACCOUNT_BURST',
} as const satisfies Record<string, RateLimitVariable>;

/** A CDK context number: a rate (`rps`, positive) or a burst (a whole number ≥ 1); undefined when not given. */
function contextRate(scope: Construct, key: string, kind: 'rps' | 'burst'): number | undefined {
  const given: unknown = scope.node.tryGetContext(key);
  if (given === undefined || given === '') return undefined;
  const value = Number(given);
  const valid = kind === 'rps' ? Number.isFinite(value) && value > 0 : Number.isInteger(value) && value >= 1;
  if (!valid) {
    const what = kind === 'rps' ? 'a positive number' : 'a whole number ≥ 1';
    throw new Error(`${key} must be ${what}, got ${JSON.stringify(given)}`);
  }
  return value;
}

/** The stage throttle from CDK context (`-c apiThrottleRps=… -c apiThrottleBurst=…`), else the default. */
function stageThrottleFromContext(scope: Construct): ThrottleSettings {
  return {
    rateLimit: contextRate(scope, 'apiThrottleRps', 'rps') ?? DEFAULT_STAGE_THROTTLE.rateLimit,
    burstLimit: contextRate(scope, 'apiThrottleBurst', 'burst') ?? DEFAULT_STAGE_THROTTLE.burstLimit,
  };
}

function rateLimitsFromContext(scope: Construct): Partial<Record<RateLimitVariable, number>> {
  const limits: Partial<Record<RateLimitVariable, number>> = {};
  for (const [key, variable] of Object.entries(RATE_LIMIT_CONTEXT)) {
    const value = contextRate(scope, key, key.endsWith('Rps') ? 'rps' : 'burst');
    if (value !== undefined) limits[variable] = value;
  }
  return limits;
}

/** The functions that authenticate customers' tokens (their own routes, or a metering call's customer token). */
const rateLimitedFunctions = new Set<FunctionName>(
  routes.filter((route) => route.auth === 'token' || route.auth === 'service').map((route) => route.function),
);

/**
 * CDK context of self-serve sign-up (README, "Members and roles"): `selfSignup` (`true` turns it on) and
 * `signupCredits` (USD granted once per address). Given to the functions that take or complete sign-ups.
 */
export const SIGNUP_CONTEXT = { selfSignup: 'SELF_SIGNUP', signupCredits: 'SIGNUP_CREDITS' } as const;
// `signup` takes sign-ups; `auth` completes them when their link is followed (the account and its credits).
const signupFunctions = new Set<FunctionName>(['signup', 'auth']);
/** The functions that read the dashboard's session cookie (the token routes') or set it (email sign-in). */
export const sessionCookieFunctions = new Set<FunctionName>([
  ...routes.filter((route) => route.auth === 'token').map((route) => route.function),
  'auth',
]);

/** CDK context switching the postpaid overdue block on, with its grace in days. */
export const OVERDUE_BLOCK_CONTEXT = 'postpaidOverdueBlockGraceDays';

/**
 * Every route declared auth 'none' that may act on something (table, bus, Stripe, refill queue), each with its reviewed reason.
 * A new public route fails synthesis until it is reviewed here.
 */
const reviewedPublicRoutes: Partial<Record<string, string>> = {
  'POST /webhooks/stripe':
    'Stripe webhooks are authenticated by their signature, verified on the raw body in the function',
  'POST /marketplace/register':
    "AWS Marketplace's buyer landing form POST: the registration token is resolved with AWS (ResolveCustomer) before anything is written",
  'GET /billing/return':
    "Stripe's browser redirect after payment; it only re-reads the payment from Stripe and reveals nothing",
  'POST /auth/signup':
    'Self-serve sign-up: 404 unless the operator set selfSignup; rate limited per address and per client; it only stores a pending sign-up (hashed link secret) and emails the link, opening nothing until the link is followed',
  'POST /auth/email':
    'Email sign-in: answers 202 whatever the address (no enumeration), rate limited per address and per client IP in the table; a link goes only to members',
  'GET /auth/callback':
    'The emailed sign-in link: its 256-bit secret (stored hashed, 15 minutes, used once by a conditional write) is the credential',
  'POST /auth/logout':
    'Ends the session its cookie names (and needs the CSRF header); without one it only clears the cookie',
  'GET /auth/session':
    'Authorised by the session cookie, checked inside the function (401 without a live session)',
  'PUT /auth/session':
    'Authorised by the session cookie and the CSRF header, checked inside the function; switches only to accounts the person is a member of',
};

/** Why a route without an API Gateway authorizer is acceptable, from its declared auth and its function. */
function unauthorizedRouteReason(route: Route): string {
  if (route.auth === 'token') {
    return 'Bearer tokens are verified inside the function (hashed lookup with cache); /admin routes use IAM authorization';
  }
  if (route.auth === 'service') {
    return "Operator service keys (svc_) are verified inside the function (hashed lookup with cache); customers' tokens are refused there";
  }
  const reviewed = reviewedPublicRoutes[routeKey(route)];
  if (reviewed) return reviewed;
  const spec: FunctionSpec = functions[route.function];
  if (spec.table.length > 0 || spec.publishesEvents || spec.stripe || spec.refillQueue || spec.refillWorker) {
    throw new Error(
      `${routeKey(route)} is public (auth 'none') and its function has permissions: review it in reviewedPublicRoutes`,
    );
  }
  return "Public by design: declared auth 'none' in infra/definitions/routes.ts; its function has no table or event bus permissions";
}

export type MarketplaceContext = MarketplaceSettings & { snsTopicArns?: string[]; productId?: string };

/** CDK context of the notification emails (README, "Notifications"). */
export const NOTIFY_CONTEXT = {
  from: 'notifyFrom',
  identity: 'sesIdentity',
  configurationSet: 'sesConfigurationSet',
  productName: 'productName',
} as const;

/**
 * The notification emails' settings from CDK context: `notifyFrom` (the sender), `sesIdentity` (its verified
 * SES identity; default the sender's domain), `sesConfigurationSet` (default: one this stack creates, which
 * suppresses bounced and complaining addresses) and `productName`. Without `notifyFrom`, no email is sent.
 */
function notificationEmailFromContext(
  scope: Stack,
  serviceName: string,
): Pick<NotificationAccess, 'email' | 'productName'> & { configurationSet?: ConfigurationSet } {
  const text = (key: string): string | undefined => {
    const value: unknown = scope.node.tryGetContext(key);
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string') throw new Error(`${key} must be a string, got ${JSON.stringify(value)}`);
    return value;
  };
  const productName = text(NOTIFY_CONTEXT.productName);
  const from = text(NOTIFY_CONTEXT.from);
  if (!from) {
    Annotations.of(scope).addWarningV2(
      'credits:notificationEmail',
      'No notifyFrom in the CDK context: no email is sent: notifications, sign-in links and invitations (webhooks still are; sign in with a billing token). See README, "Notifications".',
    );
    return productName ? { productName } : {};
  }
  const address = senderAddress(from);
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address)) {
    throw new Error(`${NOTIFY_CONTEXT.from} must be an email address, got ${JSON.stringify(from)}`);
  }
  const identity = text(NOTIFY_CONTEXT.identity) ?? address.slice(address.indexOf('@') + 1);
  if (address !== identity && !address.endsWith(`@${identity}`)) {
    throw new Error(`${NOTIFY_CONTEXT.from} ${address} is not an address of the SES identity ${identity}`);
  }
  // An existing set is the operator's: its event destinations are theirs to point at the default bus.
  let configurationSetName = text(NOTIFY_CONTEXT.configurationSet);
  let configurationSet: ConfigurationSet | undefined;
  if (!configurationSetName) {
    configurationSet = new ConfigurationSet(scope, 'NotificationConfigurationSet', {
      configurationSetName: `${serviceName}-notifications`,
      suppressionReasons: SuppressionReasons.BOUNCES_AND_COMPLAINTS,
      reputationMetrics: true,
    });
    configurationSetName = configurationSet.configurationSetName;
  }
  return {
    email: { from, identity, configurationSetName },
    ...(productName ? { productName } : {}),
    ...(configurationSet ? { configurationSet } : {}),
  };
}

/** The AWS Marketplace settings given as CDK context (`cdk deploy -c marketplaceProductCode=...`). */
const PRODUCT_TYPES = ['metered', 'contract', 'auto'] as const;

function marketplaceFromContext(scope: Construct): MarketplaceContext {
  const text = (key: string): string | undefined => {
    const value: unknown = scope.node.tryGetContext(key);
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string') throw new Error(`${key} must be a string, got ${JSON.stringify(value)}`);
    return value;
  };
  const productCode = text('marketplaceProductCode');
  if (productCode && !/^[A-Za-z0-9]{1,255}$/.test(productCode)) {
    throw new Error(`marketplaceProductCode must be letters and digits, got ${JSON.stringify(productCode)}`);
  }
  const productId = text('marketplaceProductId');
  if (productId && !/^prod-[A-Za-z0-9]{1,64}$/.test(productId)) {
    throw new Error(
      `marketplaceProductId must be a product id like prod-abc123, got ${JSON.stringify(productId)}`,
    );
  }
  const windowText: unknown = scope.node.tryGetContext('marketplaceWindowHours');
  const windowHours = windowText === undefined || windowText === '' ? undefined : Number(windowText);
  if (
    windowHours !== undefined &&
    !(
      Number.isInteger(windowHours) &&
      windowHours >= MIN_MARKETPLACE_WINDOW_HOURS &&
      windowHours <= MAX_MARKETPLACE_WINDOW_HOURS
    )
  ) {
    throw new Error(
      `marketplaceWindowHours must be a whole number of hours from ${MIN_MARKETPLACE_WINDOW_HOURS} to ${MAX_MARKETPLACE_WINDOW_HOURS}, got ${JSON.stringify(windowText)}`,
    );
  }
  const unitPrice = text('marketplaceUnitPrice');
  if (unitPrice && !(/^\d+(\.\d{1,6})?$/.test(unitPrice) && Number(unitPrice) > 0)) {
    throw new Error(`marketplaceUnitPrice must be a positive USD amount, got ${JSON.stringify(unitPrice)}`);
  }
  const dimension = text('marketplaceDimension');
  const productTypeText = text('marketplaceProductType');
  const productType = PRODUCT_TYPES.find((type) => type === productTypeText);
  if (productTypeText && !productType) {
    throw new Error(
      `marketplaceProductType must be metered, contract or auto, got ${JSON.stringify(productTypeText)}`,
    );
  }
  const creditDimensionsText = text('marketplaceCreditDimensions');
  // Refused at synth rather than at the first registration: the same parser the functions use.
  if (creditDimensionsText) creditDimensions(creditDimensionsText);
  const listingUrl = text('marketplaceListingUrl');
  if (listingUrl && !/^https:\/\/\S+$/.test(listingUrl)) {
    throw new Error(`marketplaceListingUrl must be an https URL, got ${JSON.stringify(listingUrl)}`);
  }
  const topics = text('marketplaceSnsTopicArns');
  const snsTopicArns = topics
    ?.split(',')
    .map((arn) => arn.trim())
    .filter(Boolean);
  for (const arn of snsTopicArns ?? []) {
    if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$/.test(arn)) {
      throw new Error(`marketplaceSnsTopicArns: not an SNS topic ARN: ${arn}`);
    }
  }
  return {
    ...(productCode ? { productCode } : {}),
    ...(productId ? { productId } : {}),
    ...(windowHours ? { windowHours } : {}),
    ...(unitPrice ? { unitPrice } : {}),
    ...(dimension ? { dimension } : {}),
    ...(productType ? { productType } : {}),
    ...(creditDimensionsText ? { creditDimensions: creditDimensionsText } : {}),
    ...(listingUrl ? { listingUrl } : {}),
    ...(snsTopicArns?.length ? { snsTopicArns } : {}),
  };
}

/** The operator's public base URL, when given: an http(s) URL without query or fragment, trailing slash removed. */
function givenPublicBaseUrl(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined;
  if (!url || !['https:', 'http:'].includes(url.protocol) || url.search || url.hash) {
    throw new Error(`${PUBLIC_BASE_URL_CONTEXT} must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return String(value).replace(/\/+$/, '');
}

/**
 * A queue that keeps what failed for 14 days (a dead-letter queue or an on-failure destination): encrypted,
 * TLS only. `noDeadLetterQueue` says why the queue has none of its own (cdk-nag AwsSolutions-SQS3).
 */
function failureQueue(scope: Stack, id: string, noDeadLetterQueue?: string): Queue {
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  if (noDeadLetterQueue)
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: noDeadLetterQueue });
  return queue;
}

export class ApiStack extends Stack {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly functions: Record<FunctionName, HouseFunction>;
  readonly alarmTopic: Topic;
  readonly jobsDeadLetterQueue: Queue;
  readonly jobFailureQueue: Queue;
  readonly refillQueue: Queue;
  readonly refillDeadLetterQueue: Queue;
  readonly invoiceQueue: Queue;
  readonly invoiceDeadLetterQueue: Queue;
  /** Every billing event, from a rule on the project's bus, for the notification worker (emails, webhooks). */
  readonly notificationQueue: Queue;
  readonly notificationDeadLetterQueue: Queue;
  /** One message per webhook delivery attempt (delayed up to 15 minutes; longer waits are re-queued). */
  readonly webhookQueue: Queue;
  readonly webhookDeadLetterQueue: Queue;
  /** Where a stream consumer reports a batch it gave up on (shard and sequence numbers; alarmed). */
  readonly streamFailureQueue: Queue;
  /** The lifecycle rule's pattern: this product's agreement and licence events (the forwarder reuses it). */
  readonly marketplaceEventPattern: EventPattern;
  /** Where the dashboard stack publishes its URL, which the checkout functions may read. */
  readonly dashboardUrlParameterName: string;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { table, bus } = props;
    const serviceName = props.serviceName ?? 'credits-billing';
    const metricsNamespace = props.metricsNamespace ?? 'CreditsBilling';

    // HTTP API: the default stage is created explicitly to give it access logging and throttling.
    this.api = new HttpApi(this, 'HttpApi', {
      apiName: serviceName,
      description: 'Prepaid-credit billing API',
      createDefaultStage: false,
    });

    // Functions: one per spec. The default public base URL is the API's endpoint, which refers to the Api
    // resource only (not its stage, routes or integrations, which depend on the functions): no cycle.
    const givenBaseUrl = givenPublicBaseUrl(
      props.publicBaseUrl ?? this.node.tryGetContext(PUBLIC_BASE_URL_CONTEXT),
    );
    const stripe = { secret: props.stripeSecret, publicBaseUrl: givenBaseUrl ?? this.api.apiEndpoint };
    this.dashboardUrlParameterName = dashboardUrlParameterName(serviceName);
    const dashboardUrl = {
      parameterName: this.dashboardUrlParameterName,
      returnPagesOnDashboard: givenBaseUrl === undefined,
    };
    // Auto-refill's prompt trigger: debits send account ids here; the refill worker consumes them. A message
    // stays invisible for 6 worker timeouts (AWS's advice for SQS event sources), then after 5 receives it
    // goes to the dead-letter queue (which cdk-nag recognizes as one through the redrive policy: no SQS3).
    const workerTimeoutSeconds = Math.max(
      ...Object.values(functions as Record<string, FunctionSpec>)
        .filter((spec) => spec.refillWorker)
        .map((spec) => spec.timeoutSeconds ?? HOUSE_DEFAULTS.timeoutSeconds),
    );
    if (!Number.isFinite(workerTimeoutSeconds)) throw new Error('no function spec says refillWorker');
    this.refillDeadLetterQueue = failureQueue(this, 'RefillDeadLetterQueue');
    this.refillQueue = new Queue(this, 'RefillQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(6 * workerTimeoutSeconds),
      deadLetterQueue: { queue: this.refillDeadLetterQueue, maxReceiveCount: 5 },
    });
    // Postpaid invoicing's fan-out: the job queues one message per account-period; the invoice worker
    // consumes them. Same visibility and dead-letter rules as the refill queue.
    const invoiceWorkerTimeoutSeconds = Math.max(
      ...Object.values(functions as Record<string, FunctionSpec>)
        .filter((spec) => spec.invoiceWorker)
        .map((spec) => spec.timeoutSeconds ?? HOUSE_DEFAULTS.timeoutSeconds),
    );
    if (!Number.isFinite(invoiceWorkerTimeoutSeconds)) throw new Error('no function spec says invoiceWorker');
    this.invoiceDeadLetterQueue = failureQueue(this, 'InvoiceDeadLetterQueue');
    this.invoiceQueue = new Queue(this, 'InvoiceQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(6 * invoiceWorkerTimeoutSeconds),
      deadLetterQueue: { queue: this.invoiceDeadLetterQueue, maxReceiveCount: 5 },
    });
    // Notifications: a rule on the project's bus puts every billing event on this queue, which the notify
    // worker consumes (emails through SES, customer webhooks). An event the rule cannot deliver, or the
    // worker fails 10 times, lands in the dead-letter queue (alarmed); nothing is dropped silently.
    this.notificationDeadLetterQueue = failureQueue(this, 'NotificationDeadLetterQueue');
    this.notificationQueue = new Queue(this, 'NotificationQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(
        6 * (functions.notify.timeoutSeconds ?? HOUSE_DEFAULTS.timeoutSeconds),
      ),
      deadLetterQueue: { queue: this.notificationDeadLetterQueue, maxReceiveCount: 10 },
    });
    new Rule(this, 'NotificationEvents', {
      description: 'Every billing event, for the notification worker (emails and customer webhooks)',
      eventBus: bus,
      eventPattern: { source: [EVENT_SOURCE] },
      targets: [
        new SqsQueue(this.notificationQueue, {
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
          deadLetterQueue: this.notificationDeadLetterQueue,
        }),
      ],
    });
    const { configurationSet, ...email } = notificationEmailFromContext(this, serviceName);
    const notifications: NotificationAccess = {
      queue: this.notificationQueue,
      publicBaseUrl: givenBaseUrl ?? this.api.apiEndpoint,
      ...email,
    };
    // Webhook deliveries: one message per attempt; the worker records each attempt before its message is
    // deleted, so a message that fails 5 times (DynamoDB or SQS down, not the customer's receiver) is a fault
    // of ours: dead-lettered and alarmed.
    const webhookWorkerTimeoutSeconds = Math.max(
      ...Object.values(functions as Record<string, FunctionSpec>)
        .filter((spec) => spec.webhookWorker)
        .map((spec) => spec.timeoutSeconds ?? HOUSE_DEFAULTS.timeoutSeconds),
    );
    if (!Number.isFinite(webhookWorkerTimeoutSeconds)) throw new Error('no function spec says webhookWorker');
    this.webhookDeadLetterQueue = failureQueue(this, 'WebhookDeadLetterQueue');
    this.webhookQueue = new Queue(this, 'WebhookQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(6 * webhookWorkerTimeoutSeconds),
      deadLetterQueue: { queue: this.webhookDeadLetterQueue, maxReceiveCount: 5 },
    });
    const marketplace = props.marketplace ?? marketplaceFromContext(this);
    const built: Partial<Record<FunctionName, HouseFunction>> = {};
    for (const [name, spec] of Object.entries(functions) as [FunctionName, FunctionSpec][]) {
      built[name] = new HouseFunction(this, name, {
        spec,
        table,
        bus,
        stripe,
        dashboardUrl,
        cursorSecret: props.cursorSecret,
        refillQueue: this.refillQueue,
        invoiceQueue: this.invoiceQueue,
        notifications,
        webhookQueue: this.webhookQueue,
        marketplace,
        serviceName,
        metricsNamespace,
      });
    }
    this.functions = built as Record<FunctionName, HouseFunction>;
    // The overdue block is decided where invoice states are recorded: the functions that talk to Stripe.
    const graceDays = props.postpaidOverdueBlockGraceDays ?? this.node.tryGetContext(OVERDUE_BLOCK_CONTEXT);
    if (graceDays !== undefined && graceDays !== '') {
      if (!Number.isInteger(Number(graceDays)) || Number(graceDays) < 0) {
        throw new Error(`${OVERDUE_BLOCK_CONTEXT} must be a whole number of days ≥ 0, got ${graceDays}`);
      }
      for (const fn of Object.values(this.functions)) {
        if (fn.spec.stripe)
          fn.function.addEnvironment('POSTPAID_OVERDUE_BLOCK_GRACE_DAYS', String(Number(graceDays)));
      }
    }

    // Rate limits: enforced where tokens are authenticated, so only those functions are told them.
    const rateLimits = props.rateLimits ?? rateLimitsFromContext(this);
    for (const [name, fn] of Object.entries(this.functions) as [FunctionName, HouseFunction][]) {
      if (!rateLimitedFunctions.has(name)) continue;
      for (const [variable, value] of Object.entries(rateLimits))
        fn.function.addEnvironment(variable, String(value));
    }
    // Deployed, the session cookie is `__Host-` prefixed and Secure (shared/auth/cookie.ts): every function
    // that reads or sets it is told so; locally (plain http) the variable is unset.
    for (const [name, fn] of Object.entries(this.functions) as [FunctionName, HouseFunction][]) {
      if (sessionCookieFunctions.has(name)) fn.function.addEnvironment('SESSION_COOKIE_SECURE', 'true');
    }

    for (const [key, variable] of Object.entries(SIGNUP_CONTEXT)) {
      const value = this.node.tryGetContext(key);
      if (value === undefined || value === '') continue;
      for (const name of signupFunctions)
        this.functions[name].function.addEnvironment(variable, String(value));
    }

    // Proxy functions: where each configured upstream is, and reading exactly its signing secret.
    const upstreams = props.proxyUpstreams ?? {};
    const upstreamSecretArns = Object.values(upstreams).map(({ secret }) => secret.secretArn);
    for (const fn of Object.values(this.functions)) {
      if (!fn.spec.proxy) continue;
      fn.function.addEnvironment(
        'PROXY_UPSTREAMS',
        this.toJsonString(
          Object.fromEntries(
            Object.entries(upstreams).map(([name, { url, secret }]) => [
              name,
              { url, secret_arn: secret.secretArn },
            ]),
          ),
        ),
      );
      if (upstreamSecretArns.length > 0) {
        fn.role.addToPrincipalPolicy(
          new PolicyStatement({
            sid: 'ProxyUpstreamSecrets',
            actions: ['secretsmanager:GetSecretValue'],
            resources: upstreamSecretArns,
          }),
        );
      }
    }

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? stageThrottleFromContext(this),
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            requestTime: '$context.requestTimeEpoch',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            responseLatency: '$context.responseLatency',
            integrationLatency: '$context.integrationLatency',
            integrationStatus: '$context.integrationStatus',
            integrationError: '$context.integrationErrorMessage',
            errorMessage: '$context.error.message',
            sourceIp: '$context.identity.sourceIp',
            userAgent: '$context.identity.userAgent',
            userArn: '$context.identity.userArn',
          }),
        ),
      },
    });

    // Routes: straight from the route table; one integration per function, shared by its routes.
    const integrations = new Map<FunctionName, HttpLambdaIntegration>();
    const iamAuthorizer = new HttpIamAuthorizer();
    const noAuthorizer = new HttpNoneAuthorizer();
    for (const route of routes) {
      if (route.proxy && !upstreams[route.proxy.upstream]) {
        Annotations.of(this).addWarningV2(
          `credits:proxyUpstream:${route.proxy.upstream}`,
          `${routeKey(route)} is not deployed: its upstream "${route.proxy.upstream}" is not in the CDK context proxyUpstreams`,
        );
        continue;
      }
      let integration = integrations.get(route.function);
      if (!integration) {
        integration = new HttpLambdaIntegration(
          `${route.function}Integration`,
          this.functions[route.function].function,
        );
        integrations.set(route.function, integration);
      }
      const authorizer: IHttpRouteAuthorizer = route.auth === 'iam' ? iamAuthorizer : noAuthorizer;
      const [httpRoute] = this.api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration,
        authorizer,
      });
      if (!httpRoute) throw new Error(`no route was created for ${routeKey(route)}`);
      if (route.auth !== 'iam') {
        Validations.of(httpRoute).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: unauthorizedRouteReason(route),
        });
      }
    }

    // Alarms go to one topic; subscribe operators to it after deployment.
    this.alarmTopic = new Topic(this, 'AlarmTopic', {
      displayName: `${serviceName} alarms`,
      enforceSSL: true,
    });
    // The topic policy replaces SNS's default one: let CloudWatch alarms of this account publish explicitly.
    this.alarmTopic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': `arn:${this.partition}:cloudwatch:${this.region}:${this.account}:alarm:*`,
          },
          StringEquals: { 'aws:SourceAccount': this.account },
        },
      }),
    );
    const alarmAction = new SnsAction(this.alarmTopic);
    const alarm = (alarmId: string, metric: IMetric, description: string, threshold = 0): Alarm => {
      const created = new Alarm(this, alarmId, {
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(alarmAction);
      return created;
    };

    // Scheduled jobs: EventBridge rules on the default bus, with retries and a dead-letter queue.
    this.jobsDeadLetterQueue = failureQueue(
      this,
      'JobsDeadLetterQueue',
      'This queue is itself the dead-letter queue of the scheduled job targets; it has an alarm instead',
    );
    // That queue only receives events EventBridge could not deliver. A job that was invoked and failed (after
    // Lambda's own retries of an asynchronous invocation) goes to this one, through the function's
    // on-failure destination: the message holds the event and the error.
    this.jobFailureQueue = failureQueue(
      this,
      'JobFailureQueue',
      'This queue is itself the on-failure destination of the scheduled jobs; it has an alarm instead',
    );
    // Not SqsDestination: its grant adds sqs:GetQueueAttributes and sqs:GetQueueUrl, and Lambda needs only
    // sqs:SendMessage, granted below to each job's role.
    const jobFailed: IDestination = { bind: () => ({ destination: this.jobFailureQueue.queueArn }) };

    for (const name of ASYNCHRONOUSLY_INVOKED) {
      const job = this.functions[name];
      job.function.configureAsyncInvoke({ onFailure: jobFailed, retryAttempts: 2 });
      job.role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'JobFailureQueue',
          actions: ['sqs:SendMessage'],
          resources: [this.jobFailureQueue.queueArn],
        }),
      );
    }
    for (const job of jobs) {
      new Rule(this, `Job-${job.name}`, {
        description: `Scheduled job ${job.name}`,
        schedule: Schedule.expression(job.schedule),
        targets: [
          new LambdaFunction(this.functions[job.function].function, {
            retryAttempts: 2,
            maxEventAge: Duration.minutes(15),
            deadLetterQueue: this.jobsDeadLetterQueue,
          }),
        ],
      });
    }
    alarm(
      'JobsDeadLetterAlarm',
      this.jobsDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'A scheduled job invocation could not be delivered (see the jobs dead-letter queue)',
    );
    alarm(
      'JobFailureAlarm',
      this.jobFailureQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'A scheduled job failed after 2 retries (the job failure queue holds its event and error; fix, then rerun the job)',
    );

    // SES's later word on the notification emails (bounces, complaints): the configuration set this stack made
    // publishes them to the default bus; the sesFeedback function records them on the account's status.
    if (configurationSet) {
      const defaultBus = EventBus.fromEventBusName(this, 'DefaultBus', 'default');
      configurationSet.addEventDestination('Feedback', {
        destination: EventDestination.eventBus(defaultBus),
        events: [EmailSendingEvent.BOUNCE, EmailSendingEvent.COMPLAINT],
      });
      new Rule(this, 'NotificationEmailFeedback', {
        description: 'Bounces and complaints of the notification emails, recorded on the accounts',
        eventPattern: {
          source: ['aws.ses'],
          detailType: ['Email Bounced', 'Email Complaint Received'],
          detail: { mail: { tags: { 'ses:configuration-set': [configurationSet.configurationSetName] } } },
        },
        targets: [
          new LambdaFunction(this.functions.sesFeedback.function, {
            retryAttempts: 8,
            maxEventAge: Duration.hours(2),
            deadLetterQueue: this.jobsDeadLetterQueue,
          }),
        ],
      });
    }

    // AWS Marketplace: subscription events from the default bus (and the legacy SNS topics when given). AWS
    // sends them to us-east-1's default bus; buildApp forwards them to this region's when it is another one.
    const lifecycle = this.functions.marketplaceLifecycle.function;
    this.marketplaceEventPattern = lifecycleEventPattern(marketplace);
    const lifecycleRule = new Rule(this, 'MarketplaceLifecycle', {
      description: 'AWS Marketplace agreement and license events drive the subscription status',
      eventPattern: this.marketplaceEventPattern,
      targets: [
        new LambdaFunction(lifecycle, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
          deadLetterQueue: this.jobsDeadLetterQueue,
        }),
      ],
    });
    if (!marketplace.productId && !marketplace.productCode) {
      Annotations.of(lifecycleRule).addWarningV2(
        'credits:marketplaceProductFilter',
        "No marketplaceProductId (or marketplaceProductCode) in the CDK context: every product's Marketplace events of this seller account reach the lifecycle function",
      );
    }
    for (const [index, arn] of (marketplace.snsTopicArns ?? []).entries()) {
      Topic.fromTopicArn(this, `MarketplaceSnsTopic${index}`, arn).addSubscription(
        new LambdaSubscription(lifecycle),
      );
    }
    // The application's own metrics (Powertools EMF: this namespace, dimension service).
    const appMetric = (metricName: string, statistic: string, period: Duration) =>
      new Metric({
        namespace: metricsNamespace,
        metricName,
        dimensionsMap: { service: serviceName },
        statistic,
        period,
      });
    alarm(
      'MarketplaceRejectedRecordsAlarm',
      appMetric('MarketplaceRecordsRejected', 'Sum', Duration.hours(1)),
      'AWS Marketplace refused usage records (CustomerNotSubscribed, DuplicateRecord, or past the window): not billed',
    );
    alarm(
      'MarketplaceRefusedBatchesAlarm',
      appMetric('MarketplaceBatchesRefused', 'Sum', Duration.hours(1)),
      'BatchMeterUsage refused a whole batch; its hours stay claimed and are retried by the next run',
    );
    alarm(
      'MarketplaceUnknownDimensionAlarm',
      appMetric('MarketplaceUnknownDimension', 'Sum', Duration.hours(1)),
      'A contract buyer holds entitlements in a dimension MARKETPLACE_CREDIT_DIMENSIONS does not price: nothing was granted for it',
    );
    alarm(
      'MarketplaceEntitlementReadsAlarm',
      appMetric('MarketplaceEntitlementReadFailed', 'Sum', Duration.hours(1)),
      'GetEntitlements failed after its retries: a registration answered 503, or a lifecycle event is being redelivered',
    );
    // Both alarms fire once an unreported hour has used half of AWS's window (a record is stamped at its
    // hour's start, which closes an hour later): hourly runs still have half the window to send it.
    const windowHours = marketplace.windowHours ?? DEFAULT_MARKETPLACE_WINDOW_HOURS;
    const marginSeconds = (windowHours * 3600) / 2;
    const ageSeconds = marginSeconds - 3600;
    new Alarm(this, 'MarketplaceOldestUnreportedHourAlarm', {
      metric: appMetric('MarketplaceOldestUnreportedHourAge', 'Maximum', Duration.hours(1)),
      threshold: ageSeconds,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.BREACHING,
      alarmDescription: `A Marketplace hour closed more than ${ageSeconds / 3600} hours ago is still unreported (half of the ${windowHours}-hour window used), or the metering job did not run`,
    }).addAlarmAction(alarmAction);
    // Tighter near month end: last month's hours are accepted only until 06:00 UTC on the 1st, which can
    // come before the window's end (windows over 7 hours).
    new Alarm(this, 'MarketplaceWindowMarginAlarm', {
      metric: appMetric('MarketplaceUnreportedWindowMargin', 'Minimum', Duration.hours(1)),
      threshold: marginSeconds,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: `An unreported Marketplace hour leaves AWS's accepted window within ${marginSeconds / 3600} hours (${windowHours} h after the hour's start, or 06:00 UTC on the 1st)`,
    }).addAlarmAction(alarmAction);

    // The table's stream consumers (infra/definitions/streams.ts), each through an event source mapping with
    // its filter, so only its records invoke it. A failing batch is bisected and retried; one that still
    // fails is reported to the stream failure queue: the message names the shard and sequence numbers, and
    // an event item stays in the table for EVENT_RETENTION_DAYS (shared/events/outbox.ts) to redeliver it.
    this.streamFailureQueue = failureQueue(
      this,
      'StreamFailureQueue',
      'This queue is itself the on-failure destination of the stream consumers; it has an alarm instead',
    );
    const streamArn = table.tableStreamArn;
    if (!streamArn) throw new Error('the table has no stream for its consumers');
    // Not SqsDlq: its grant adds sqs:GetQueueAttributes and sqs:GetQueueUrl; the mapping needs SendMessage.
    const streamGaveUp: IEventSourceDlq = { bind: () => ({ destination: this.streamFailureQueue.queueArn }) };
    for (const consumer of streamConsumers) {
      const consuming = this.functions[consumer.function];
      if (!consuming.spec.streamConsumer)
        throw new Error(`${consumer.function} consumes the stream but its spec does not say streamConsumer`);
      new EventSourceMapping(this, `Stream-${consumer.function}`, {
        target: consuming.function,
        eventSourceArn: streamArn,
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: consumer.batchSize,
        bisectBatchOnError: true,
        retryAttempts: consumer.retryAttempts,
        reportBatchItemFailures: true,
        onFailure: streamGaveUp,
        filters: consumer.filters.map((pattern) => ({ pattern: JSON.stringify(pattern) })),
      });
      consuming.role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'StreamFailureQueue',
          actions: ['sqs:SendMessage'],
          resources: [this.streamFailureQueue.queueArn],
        }),
      );
      // How far behind the stream the consumer is: for event delivery, the lag between a change and its event.
      new Alarm(this, `${consumer.function}-IteratorAge`, {
        metric: consuming.function.metric('IteratorAge', {
          statistic: 'Maximum',
          period: Duration.minutes(5),
        }),
        threshold: 5 * 60_000,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: `${consumer.function}: the stream's records wait more than 5 minutes for it (failing retries, or throttled)`,
      }).addAlarmAction(alarmAction);
    }
    // How far the rollups are behind the ledger: the oldest entry each rollup batch applied, at its applying.
    alarm(
      'UsageRollupLagAlarm',
      appMetric('UsageRollupLagMs', 'Maximum', Duration.minutes(5)),
      `The rollups lag the ledger by more than ${USAGE_ROLLUP_LAG_ALARM_MS / 60_000} minutes: GET /v1/usage is late, and postpaid invoicing and Marketplace metering leave the accounts behind for their next run (the usageRollups consumer retries a failing batch, or is throttled; its log names the error)`,
      USAGE_ROLLUP_LAG_ALARM_MS,
    );
    alarm(
      'StreamFailureAlarm',
      this.streamFailureQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'A stream consumer gave up on a batch after its retries (the stream failure queue names the records; billing events among them were not delivered: redeliver them from their event items)',
    );

    alarm(
      'RefillDeadLetterAlarm',
      this.refillDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'A refill request failed 5 times (see the refill dead-letter queue)',
    );
    new Alarm(this, 'RefillQueueAgeAlarm', {
      metric: this.refillQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1) }),
      threshold: 300,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: 'Refill requests have waited more than 5 minutes',
    }).addAlarmAction(alarmAction);

    alarm(
      'NotificationDeadLetterAlarm',
      this.notificationDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
      }),
      'A billing event could not be notified (emails, webhooks) after 10 tries: see the notification dead-letter queue and redrive it',
    );
    alarm(
      'NotificationEmailFailedAlarm',
      new Metric({
        namespace: metricsNamespace,
        metricName: 'NotificationEmailFailed',
        dimensionsMap: { service: serviceName },
        statistic: 'Sum',
        period: Duration.minutes(15),
      }),
      "Notification emails failed (SES throttling, refusals): see the accounts' notification status",
      10,
    );
    alarm(
      'InvoiceDeadLetterAlarm',
      this.invoiceDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'A postpaid invoice failed 5 times (see the invoice dead-letter queue; rerun the postpaid-invoices job)',
    );
    new Alarm(this, 'InvoiceQueueAgeAlarm', {
      metric: this.invoiceQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5) }),
      threshold: 3 * 3600,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: 'Postpaid invoices have waited more than 3 hours to be made',
    }).addAlarmAction(alarmAction);

    alarm(
      'WebhookDeadLetterAlarm',
      this.webhookDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'A webhook delivery attempt could not be processed 5 times (see the webhook dead-letter queue; redrive it once fixed)',
    );

    for (const [name, fn] of Object.entries(this.functions)) {
      alarm(
        `${name}-Errors`,
        fn.function.metricErrors({ period: Duration.minutes(1) }),
        `${name}: function errors`,
      );
      alarm(
        `${name}-Throttles`,
        fn.function.metricThrottles({ period: Duration.minutes(1) }),
        `${name}: throttled`,
      );
      // Warns before invocations start timing out: the threshold follows the function's configured timeout.
      const timeout = fn.function.timeout;
      if (!timeout) throw new Error(`${name}: the house function has no timeout`);
      new Alarm(this, `${name}-DurationNearTimeout`, {
        metric: fn.function.metricDuration({ statistic: 'Maximum', period: Duration.minutes(5) }),
        threshold: Math.round(NEAR_TIMEOUT * timeout.toMilliseconds()),
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: `${name}: an invocation ran ≥ ${NEAR_TIMEOUT * 100} % of its ${timeout.toSeconds()} s timeout`,
      }).addAlarmAction(alarmAction);
    }

    alarm(
      'LedgerDriftAlarm',
      appMetric('LedgerDriftAccounts', 'Maximum', Duration.hours(1)),
      "Reconciliation found accounts whose balance is not the sum of their ledger, or whose held is not their open holds (the job's log lists them)",
    );
    alarm(
      'EventPublishFailedAlarm',
      appMetric('EventPublishFailed', 'Sum', Duration.minutes(5)),
      'PutEvents failed for billing events (the delivery consumer logs each): they stay on the stream and are delivered again; nothing is lost unless the stream failure alarm fires too',
    );
    alarm(
      'ChargeRefusedUnexpectedlyAlarm',
      appMetric('ChargeRefusedUnexpectedly', 'Sum', Duration.minutes(5)),
      'DynamoDB refused a charge for a reason that is not money (e.g. an item over 400 KB): the calls answered 500; the log names the reason',
    );
    alarm(
      'StripeCurrencyRefusedAlarm',
      appMetric('StripeCurrencyRefused', 'Sum', Duration.hours(1)),
      'A Stripe payment, refund, dispute or invoice not in USD was refused: the customer paid and got no credits; refund on Stripe or grant by hand',
    );
    // Throttled reads and writes on the table and on each index: requests over a partition's limits.
    const throttleEvents = [undefined, ...tableSchema.indexes.map((index) => index.name)].flatMap((index) =>
      ['ReadThrottleEvents', 'WriteThrottleEvents'].map(
        (metricName) =>
          new Metric({
            namespace: 'AWS/DynamoDB',
            metricName,
            dimensionsMap: {
              TableName: table.tableName,
              ...(index ? { GlobalSecondaryIndexName: index } : {}),
            },
            statistic: 'Sum',
            period: Duration.minutes(5),
          }),
      ),
    );
    alarm(
      'TableThrottleAlarm',
      new MathExpression({
        expression: throttleEvents.map((_, i) => `m${i}`).join(' + '),
        usingMetrics: Object.fromEntries(throttleEvents.map((metric, i) => [`m${i}`, metric])),
        period: Duration.minutes(5),
        label: 'Throttled table and index requests',
      }),
      'DynamoDB throttled reads or writes on the table or an index (a hot partition: see the README)',
    );
    alarm(
      'Api-5xx',
      this.api.metricServerError({ period: Duration.minutes(1) }),
      'HTTP API returned 5xx responses',
    );

    new CfnOutput(this, 'ApiUrl', { value: this.stage.url });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'EventBusName', { value: bus.eventBusName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
  }
}
