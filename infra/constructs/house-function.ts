// The house Lambda: one NodejsFunction with the project's defaults, built from a FunctionSpec and granted exactly
// what the spec declares (no CDK grant helpers, which add actions the spec did not ask for: the secret's
// grantRead would add DescribeSecret too).
import path from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, EventSourceMapping, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FunctionSpec } from '../definitions/functions.ts';
import { tableSchema } from '../definitions/table.ts';
import { DEFAULT_TIMEOUT_SECONDS } from '../definitions/timeouts.ts';

/** What a stream event source mapping reads with (the function's role), on the table's stream only. */
export const STREAM_READ_ACTIONS = [
  'dynamodb:DescribeStream',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
] as const;

/** The repository root: entry paths in the function specs are relative to it. */
export const repoRoot = path.resolve(import.meta.dirname, '..', '..');

export const HOUSE_DEFAULTS = {
  memoryMb: 512,
  timeoutSeconds: DEFAULT_TIMEOUT_SECONDS,
  logRetention: RetentionDays.ONE_MONTH,
  /** Messages per invocation of a `refillWorker` function (failures are reported per item). */
  refillBatchSize: 10,
  /** Messages per invocation of an `invoiceWorker` function. */
  invoiceBatchSize: 10,
  /**
   * Concurrent `invoiceWorker` invocations: each makes about five Stripe calls per invoice, one after another,
   * which keeps the fan-out within Stripe's rate limits (100 operations/s live, 25 in test mode).
   */
  invoiceMaxConcurrency: 5,
  /** Messages per invocation of the `notificationWorker` (failures are reported per item). */
  notificationBatchSize: 10,
  /** Messages per invocation of a `webhookWorker` function: attempts of a batch are sent in parallel. */
  webhookBatchSize: 10,
} as const;

/** ESM bundles still meet CommonJS dependencies that call `require`; give them one. */
const requireBanner =
  "import { createRequire as __houseCreateRequire } from 'node:module'; const require = __houseCreateRequire(import.meta.url);";

/** What a function whose spec says `stripe` is given: the Stripe secret, and where the deployment is reachable. */
export type StripeAccess = {
  /** JSON `{"secret_key", "webhook_secret"}`; known by its complete ARN (the grant names exactly that ARN). */
  secret: ISecret;
  /** PUBLIC_BASE_URL: the public base URL of the deployment, for Stripe's success and cancel redirects. */
  publicBaseUrl: string;
};

/**
 * What a function whose spec says `dashboardUrl` is given: the name of the SSM parameter the dashboard stack
 * publishes its URL in. A name, not the parameter: the dashboard stack depends on the API stack, so a reference
 * the other way would be a cycle. The grant is built from the name.
 */
export type DashboardUrlAccess = {
  /** DASHBOARD_URL_PARAMETER, e.g. `/credits-billing/dashboard-url`. */
  parameterName: string;
  /**
   * RETURN_PAGES_ON_DASHBOARD: Stripe's default success and cancel pages go to the dashboard's URL when it is
   * known, because PUBLIC_BASE_URL is only the API's endpoint (no public base URL was given).
   */
  returnPagesOnDashboard: boolean;
};

export type HouseFunctionProps = {
  spec: FunctionSpec;
  table: ITable;
  bus: IEventBus;
  /** Required when the spec says `stripe`, ignored otherwise (like table and bus, the spec decides). */
  stripe?: StripeAccess;
  /** Required when the spec says `dashboardUrl`, ignored otherwise. */
  dashboardUrl?: DashboardUrlAccess;
  /** Required when the spec says `cursors`: the key that signs pagination cursors (by its complete ARN). */
  cursorSecret?: ISecret;
  /** Required when the spec says `refillQueue` or `refillWorker`: the auto-refill queue. */
  refillQueue?: IQueue;
  /** Required when the spec says `invoiceQueue` or `invoiceWorker`: the postpaid invoicing queue. */
  invoiceQueue?: IQueue;
  /** Required when the spec says `notificationWorker`: the notification queue and how email is sent. */
  notifications?: NotificationAccess;
  /** Required when the spec says `webhookQueue` or `webhookWorker`: the webhook delivery queue. */
  webhookQueue?: IQueue;
  /** AWS Marketplace settings (MARKETPLACE_* variables); only what the operator set. */
  marketplace?: MarketplaceSettings;
  /** POWERTOOLS_SERVICE_NAME. */
  serviceName: string;
  /** POWERTOOLS_METRICS_NAMESPACE. */
  metricsNamespace: string;
  /** @default one month */
  logRetention?: RetentionDays;
};

export class HouseFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly spec: FunctionSpec;

  constructor(scope: Construct, id: string, props: HouseFunctionProps) {
    super(scope, id);
    const { spec, table, bus } = props;
    this.spec = spec;
    const stripe = spec.stripe ? stripeGrantFor(spec, props.stripe) : undefined;
    const dashboardUrl = spec.dashboardUrl ? dashboardUrlGrantFor(this, spec, props.dashboardUrl) : undefined;
    const cursorSecretArn = spec.cursors ? cursorSecretArnFor(spec, props.cursorSecret) : undefined;
    const refillQueue =
      spec.refillQueue || spec.refillWorker ? refillQueueOf(spec, props.refillQueue) : undefined;
    const invoiceQueue =
      spec.invoiceQueue || spec.invoiceWorker ? invoiceQueueOf(spec, props.invoiceQueue) : undefined;
    const notifications =
      spec.notificationWorker || spec.sendsEmail ? notificationsOf(spec, props.notifications) : undefined;

    const webhookQueue =
      spec.webhookQueue || spec.webhookWorker ? webhookQueueOf(spec, props.webhookQueue) : undefined;

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? HOUSE_DEFAULTS.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role: ${spec.description}`,
      inlinePolicies: {
        'least-privilege': new PolicyDocument({
          statements: [
            ...statementsFor(spec, table, bus, this.logGroup, stripe, refillQueue),
            ...invoiceQueueStatements(spec, invoiceQueue),
            ...webhookQueueStatements(spec, webhookQueue),
            ...marketplaceStatements(spec),
            ...cursorSecretStatements(cursorSecretArn),
            ...dashboardUrlStatements(dashboardUrl),
            ...notificationStatements(this, spec, notifications),
          ],
        }),
      },
    });

    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(repoRoot, spec.entry),
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: path.join(repoRoot, 'package-lock.json'),
      description: spec.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: spec.memoryMb ?? HOUSE_DEFAULTS.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds ?? HOUSE_DEFAULTS.timeoutSeconds),
      // No active tracing (and no X-Ray grant): nothing in the code opened a segment, and the Powertools
      // tracer added about 120 KB to every bundle (README, "Alarms and reconciliation").
      logGroup: this.logGroup,
      role: this.role,
      environment: {
        TABLE_NAME: table.tableName,
        EVENT_BUS_NAME: bus.eventBusName,
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        NODE_OPTIONS: '--enable-source-maps',
        ...(stripe ? { STRIPE_SECRET_ARN: stripe.secretArn, PUBLIC_BASE_URL: stripe.publicBaseUrl } : {}),
        ...(cursorSecretArn ? { CURSOR_SECRET_ARN: cursorSecretArn } : {}),
        ...(dashboardUrl ? dashboardUrlEnvironment(dashboardUrl) : {}),
        ...(spec.refillQueue && refillQueue ? { REFILL_QUEUE_URL: refillQueue.queueUrl } : {}),
        ...(spec.invoiceQueue && invoiceQueue ? { INVOICE_QUEUE_URL: invoiceQueue.queueUrl } : {}),
        ...(spec.webhookQueue && webhookQueue ? { WEBHOOK_QUEUE_URL: webhookQueue.queueUrl } : {}),
        ...marketplaceEnvironment(spec, props.marketplace),
        ...notificationEnvironment(notifications),
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        banner: requireBanner,
        // Bundle the AWS SDK too: the code runs against the versions in package-lock.json, not the runtime's.
        bundleAwsSDK: true,
        // esbuild's per-bundle size report adds ~5 lines per function to every synth; problems still show.
        logLevel: LogLevel.WARNING,
      },
    });

    if (spec.refillWorker && refillQueue) {
      // Mapped by hand (not SqsEventSource, whose grant adds sqs:GetQueueUrl and lands in the default policy)
      // so the consume grant stays the exact RefillQueueConsume statement of the inline policy above.
      new EventSourceMapping(this, 'RefillQueueSource', {
        target: this.function,
        eventSourceArn: refillQueue.queueArn,
        batchSize: HOUSE_DEFAULTS.refillBatchSize,
        reportBatchItemFailures: true,
      });
    }

    if (spec.invoiceWorker && invoiceQueue) {
      // By hand for the same reason as the refill queue's; maxConcurrency bounds the calls to Stripe.
      new EventSourceMapping(this, 'InvoiceQueueSource', {
        target: this.function,
        eventSourceArn: invoiceQueue.queueArn,
        batchSize: HOUSE_DEFAULTS.invoiceBatchSize,
        maxConcurrency: HOUSE_DEFAULTS.invoiceMaxConcurrency,
        reportBatchItemFailures: true,
      });
    }

    if (spec.notificationWorker && notifications) {
      // By hand like the other queues; one event per message, each reported on its own.
      new EventSourceMapping(this, 'NotificationQueueSource', {
        target: this.function,
        eventSourceArn: notifications.queue.queueArn,
        batchSize: HOUSE_DEFAULTS.notificationBatchSize,
        reportBatchItemFailures: true,
      });
    }

    if (spec.webhookWorker && webhookQueue) {
      // By hand for the same reason as the refill queue's.
      new EventSourceMapping(this, 'WebhookQueueSource', {
        target: this.function,
        eventSourceArn: webhookQueue.queueArn,
        batchSize: HOUSE_DEFAULTS.webhookBatchSize,
        reportBatchItemFailures: true,
      });
    }

    if (spec.marketplace?.length) {
      Validations.of(this.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'AWS Marketplace Metering actions (ResolveCustomer, BatchMeterUsage) support no resource-level permissions; only the actions the spec names are granted',
      });
    }
  }
}

/**
 * How the notification worker sends email: from one address of one verified SES identity, through one
 * configuration set (bounce and complaint handling, reputation metrics). Without `email` no email is sent
 * (the worker still delivers webhooks) and the function gets no SES permission.
 */
export type NotificationAccess = {
  queue: IQueue;
  email?: {
    /** NOTIFY_FROM: the sender address, e.g. `billing@example.com` (or `"Example" <billing@example.com>`). */
    from: string;
    /** The verified SES identity the sender belongs to: a domain or the address itself. */
    identity: string;
    /** SES_CONFIGURATION_SET. */
    configurationSetName: string;
  };
  /** PRODUCT_NAME, as the emails name the product. */
  productName?: string;
  /** PUBLIC_BASE_URL: the emails' link to the dashboard when its own URL cannot be read. */
  publicBaseUrl: string;
};

/** The SES sending grant: SendEmail from exactly the configured address, its identity and configuration set. */
function notificationStatements(
  scope: Construct,
  spec: FunctionSpec,
  access: NotificationAccess | undefined,
): PolicyStatement[] {
  if (!access) return [];
  const statements: PolicyStatement[] = [];
  // A function that only sends (`sendsEmail`) gets SES, never the queue.
  if (spec.notificationWorker) {
    statements.push(
      new PolicyStatement({
        sid: 'NotificationQueueConsume',
        actions: [
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:ChangeMessageVisibility',
        ],
        resources: [access.queue.queueArn],
      }),
    );
  }
  if (access.email) {
    const stack = Stack.of(scope);
    const arn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'ses', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    statements.push(
      new PolicyStatement({
        sid: 'NotificationEmail',
        actions: ['ses:SendEmail'],
        resources: [
          arn('identity', access.email.identity),
          arn('configuration-set', access.email.configurationSetName),
        ],
        conditions: { StringEquals: { 'ses:FromAddress': senderAddress(access.email.from) } },
      }),
    );
  }
  return statements;
}

/** `billing@example.com` from `"Example" <billing@example.com>` or the bare address. */
export function senderAddress(from: string): string {
  return /<([^>]+)>\s*$/.exec(from)?.[1] ?? from.trim();
}

function notificationEnvironment(access: NotificationAccess | undefined): Record<string, string> {
  if (!access) return {};
  return {
    PUBLIC_BASE_URL: access.publicBaseUrl,
    ...(access.productName ? { PRODUCT_NAME: access.productName } : {}),
    ...(access.email
      ? { NOTIFY_FROM: access.email.from, SES_CONFIGURATION_SET: access.email.configurationSetName }
      : {}),
  };
}

/** The operator's AWS Marketplace settings (CDK context); unset ones keep the code's defaults. */
export type MarketplaceSettings = {
  /** MARKETPLACE_DIMENSION: every function gets it (the charging functions book usage in it). */
  dimension?: string;
  /** MARKETPLACE_UNIT_PRICE (USD per unit). */
  unitPrice?: string;
  /** MARKETPLACE_PRODUCT_CODE: report by CustomerIdentifier + ProductCode instead of the licence. */
  productCode?: string;
  /** MARKETPLACE_WINDOW_HOURS: how long after its hour BatchMeterUsage accepts a record. */
  windowHours?: number;
  /** MARKETPLACE_PRODUCT_TYPE: `metered`, `contract` or `auto` (the functions that read entitlements). */
  productType?: 'metered' | 'contract' | 'auto';
  /** MARKETPLACE_CREDIT_DIMENSIONS: JSON `{"<dimension>": <USD per unit>}` (the functions that grant). */
  creditDimensions?: string;
  /** MARKETPLACE_LISTING_URL: where contract buyers buy more (every function: the credits answer shows it). */
  listingUrl?: string;
};

function marketplaceEnvironment(spec: FunctionSpec, settings: MarketplaceSettings | undefined) {
  if (!settings) return {};
  const metering = Boolean(spec.marketplace?.length);
  const grants = Boolean(spec.marketplace?.includes('aws-marketplace:GetEntitlements'));
  return {
    ...(settings.dimension ? { MARKETPLACE_DIMENSION: settings.dimension } : {}),
    ...(settings.listingUrl ? { MARKETPLACE_LISTING_URL: settings.listingUrl } : {}),
    ...(grants && settings.productType ? { MARKETPLACE_PRODUCT_TYPE: settings.productType } : {}),
    ...(grants && settings.creditDimensions
      ? { MARKETPLACE_CREDIT_DIMENSIONS: settings.creditDimensions }
      : {}),
    ...(metering && settings.unitPrice ? { MARKETPLACE_UNIT_PRICE: settings.unitPrice } : {}),
    ...(metering && settings.windowHours ? { MARKETPLACE_WINDOW_HOURS: String(settings.windowHours) } : {}),
    ...(metering && settings.productCode
      ? { MARKETPLACE_PRODUCT_CODE: settings.productCode, MARKETPLACE_IDENTITY: 'product_code' }
      : {}),
  };
}

/** Exactly the Metering actions the spec names; they take no resource ARN (acknowledged for cdk-nag). */
function marketplaceStatements(spec: FunctionSpec): PolicyStatement[] {
  if (!spec.marketplace?.length) return [];
  return [
    new PolicyStatement({ sid: 'MarketplaceMetering', actions: [...spec.marketplace], resources: ['*'] }),
  ];
}

function notificationsOf(spec: FunctionSpec, access: NotificationAccess | undefined): NotificationAccess {
  if (!access) throw new Error(`function ${spec.entry} sends notification email but was given no access`);
  return access;
}

function invoiceQueueOf(spec: FunctionSpec, queue: IQueue | undefined): IQueue {
  if (!queue) throw new Error(`function ${spec.entry} uses the invoice queue but was given none`);
  return queue;
}

/** SendMessage on the invoice queue when `invoiceQueue`; what an SQS event source needs when `invoiceWorker`. */
function invoiceQueueStatements(spec: FunctionSpec, queue: IQueue | undefined): PolicyStatement[] {
  if (!queue) return [];
  return [
    ...(spec.invoiceQueue
      ? [
          new PolicyStatement({
            sid: 'InvoiceQueue',
            actions: ['sqs:SendMessage'],
            resources: [queue.queueArn],
          }),
        ]
      : []),
    ...(spec.invoiceWorker
      ? [
          new PolicyStatement({
            sid: 'InvoiceQueueConsume',
            actions: [
              'sqs:ReceiveMessage',
              'sqs:DeleteMessage',
              'sqs:ChangeMessageVisibility',
              'sqs:GetQueueAttributes',
            ],
            resources: [queue.queueArn],
          }),
        ]
      : []),
  ];
}

function webhookQueueOf(spec: FunctionSpec, queue: IQueue | undefined): IQueue {
  if (!queue) throw new Error(`function ${spec.entry} uses the webhook queue but was given none`);
  return queue;
}

/**
 * SendMessage on the webhook queue when `webhookQueue` (the worker too: it queues the next attempt, and
 * re-queues a wait longer than SQS's 15-minute delay); what an SQS event source needs when `webhookWorker`.
 */
function webhookQueueStatements(spec: FunctionSpec, queue: IQueue | undefined): PolicyStatement[] {
  if (!queue) return [];
  return [
    ...(spec.webhookQueue
      ? [
          new PolicyStatement({
            sid: 'WebhookQueue',
            actions: ['sqs:SendMessage'],
            resources: [queue.queueArn],
          }),
        ]
      : []),
    ...(spec.webhookWorker
      ? [
          new PolicyStatement({
            sid: 'WebhookQueueConsume',
            actions: [
              'sqs:ReceiveMessage',
              'sqs:DeleteMessage',
              'sqs:ChangeMessageVisibility',
              'sqs:GetQueueAttributes',
            ],
            resources: [queue.queueArn],
          }),
        ]
      : []),
  ];
}

function refillQueueOf(spec: FunctionSpec, queue: IQueue | undefined): IQueue {
  if (!queue) throw new Error(`function ${spec.entry} uses the refill queue but was given none`);
  return queue;
}

type DashboardUrlGrant = DashboardUrlAccess & { parameterArn: string };

/** The parameter's ARN in this stack's account and region, where the dashboard stack publishes it. */
function dashboardUrlGrantFor(
  scope: Construct,
  spec: FunctionSpec,
  access: DashboardUrlAccess | undefined,
): DashboardUrlGrant {
  // Checkout functions read it for their return pages; the notification worker for the emails' links.
  if (!spec.stripe && !spec.notificationWorker && !spec.sendsEmail) {
    throw new Error(
      `function ${spec.entry} sets dashboardUrl but neither stripe, notificationWorker nor sendsEmail`,
    );
  }
  if (!access) throw new Error(`function ${spec.entry} sets dashboardUrl but was given no parameter name`);
  const parameterArn = Stack.of(scope).formatArn({
    service: 'ssm',
    resource: 'parameter',
    // A hierarchical name's leading slash is the ARN's separator: `parameter/credits-billing/dashboard-url`.
    resourceName: access.parameterName.replace(/^\//, ''),
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
  return { ...access, parameterArn };
}

function dashboardUrlEnvironment(grant: DashboardUrlGrant): Record<string, string> {
  return {
    DASHBOARD_URL_PARAMETER: grant.parameterName,
    ...(grant.returnPagesOnDashboard ? { RETURN_PAGES_ON_DASHBOARD: 'true' } : {}),
  };
}

function dashboardUrlStatements(grant: DashboardUrlGrant | undefined): PolicyStatement[] {
  if (!grant) return [];
  return [
    new PolicyStatement({
      sid: 'DashboardUrl',
      actions: ['ssm:GetParameter'],
      resources: [grant.parameterArn],
    }),
  ];
}

/** A `cursors` function reads the cursor key, known by its complete ARN like the Stripe secret. */
function cursorSecretArnFor(spec: FunctionSpec, secret: ISecret | undefined): string {
  if (!secret) throw new Error(`function ${spec.entry} sets cursors but was given no cursor secret`);
  const arn = secret.secretFullArn;
  if (!arn) throw new Error(`function ${spec.entry}: the cursor secret must be known by its complete ARN`);
  return arn;
}

function cursorSecretStatements(arn: string | undefined): PolicyStatement[] {
  if (!arn) return [];
  return [
    new PolicyStatement({
      sid: 'CursorSecret',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [arn],
    }),
  ];
}

type StripeGrant = { secretArn: string; publicBaseUrl: string };

/** A `stripe` function needs the secret, known by its complete ARN: a partial one could only be granted with `-??????`. */
function stripeGrantFor(spec: FunctionSpec, access: StripeAccess | undefined): StripeGrant {
  if (!access) throw new Error(`function ${spec.entry} sets stripe but was given no Stripe secret`);
  const secretArn = access.secret.secretFullArn;
  if (!secretArn) {
    throw new Error(`function ${spec.entry}: the Stripe secret must be known by its complete ARN`);
  }
  return { secretArn, publicBaseUrl: access.publicBaseUrl };
}

/**
 * The function's whole permission set: its log group, exactly the spec's DynamoDB actions on the table,
 * Query on the table's named indexes when `tableIndexes`, PutEvents on the bus when `publishesEvents`,
 * GetSecretValue on the Stripe secret when `stripe`, SendMessage on the refill queue when `refillQueue`,
 * what an SQS event source needs to consume the refill queue when `refillWorker`, and the stream reads of a
 * `streamConsumer` (its event source mapping and on-failure queue are made by the API stack).
 */
function statementsFor(
  spec: FunctionSpec,
  table: ITable,
  bus: IEventBus,
  logGroup: LogGroup,
  stripe: StripeGrant | undefined,
  refillQueue: IQueue | undefined,
): PolicyStatement[] {
  const statements = [
    new PolicyStatement({
      sid: 'Logs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  ];
  if (spec.table.length > 0) {
    statements.push(
      new PolicyStatement({ sid: 'Table', actions: [...spec.table], resources: [table.tableArn] }),
    );
  }
  if (spec.tableIndexes) {
    if (!spec.table.includes('dynamodb:Query')) {
      throw new Error(`function ${spec.entry} sets tableIndexes but does not declare dynamodb:Query`);
    }
    statements.push(
      new PolicyStatement({
        sid: 'TableIndexes',
        actions: ['dynamodb:Query'],
        resources: tableSchema.indexes.map((index) => `${table.tableArn}/index/${index.name}`),
      }),
    );
  }
  if (spec.streamConsumer) {
    if (!table.tableStreamArn)
      throw new Error(`function ${spec.entry} consumes the stream of a table without one`);
    statements.push(
      new PolicyStatement({
        sid: 'TableStream',
        actions: [...STREAM_READ_ACTIONS],
        resources: [table.tableStreamArn],
      }),
    );
  }
  if (spec.publishesEvents) {
    statements.push(
      new PolicyStatement({ sid: 'Events', actions: ['events:PutEvents'], resources: [bus.eventBusArn] }),
    );
  }
  if (stripe) {
    statements.push(
      new PolicyStatement({
        sid: 'StripeSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [stripe.secretArn],
      }),
    );
  }
  if (spec.refillQueue && refillQueue) {
    statements.push(
      new PolicyStatement({
        sid: 'RefillQueue',
        actions: ['sqs:SendMessage'],
        resources: [refillQueue.queueArn],
      }),
    );
  }
  if (spec.refillWorker && refillQueue) {
    statements.push(
      new PolicyStatement({
        sid: 'RefillQueueConsume',
        actions: [
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueAttributes',
        ],
        resources: [refillQueue.queueArn],
      }),
    );
  }
  return statements;
}
