// Stateful resources, kept apart from the API so that redeploying code never touches them:
// the single table (built from tableSchema, with its stream), the project's own EventBridge bus with an archive,
// the Secrets Manager secret holding the Stripe keys, and the generated key that signs pagination cursors.
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { type CfnArchive, EventBus } from 'aws-cdk-lib/aws-events';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { tableSchema } from '../definitions/table.ts';

export type DataStackProps = StackProps & {
  /** Prefix of physical names (the event bus). @default 'credits-billing' */
  namePrefix?: string;
  /** How long the bus archive keeps events. @default 365 days */
  archiveRetention?: Duration;
  /**
   * Use this existing Stripe secret (its complete ARN, ending in the 6-character suffix) instead of creating one.
   * @default CDK context `stripeSecretArn` (`cdk deploy -c stripeSecretArn=arn:...`), else a new secret
   */
  stripeSecretArn?: string;
  /** The configured upstreams of the metered proxy routes: each gets its own generated signing secret. */
  proxyUpstreams?: readonly string[];
};

/** CDK context naming an existing Stripe secret by its complete ARN. */
export const STRIPE_SECRET_ARN_CONTEXT = 'stripeSecretArn';

/**
 * The generated placeholder of a new Stripe secret: empty keys, which the functions refuse with a clear
 * configuration error until the operator puts the real ones. Do not change it once deployed: CloudFormation
 * generates a new value whenever GenerateSecretString changes, which would overwrite the real keys.
 */
export const STRIPE_SECRET_PLACEHOLDER = {
  secretStringTemplate: JSON.stringify({ secret_key: '', webhook_secret: '' }),
  generateStringKey: 'placeholder',
} as const;

export class DataStack extends Stack {
  readonly table: Table;
  readonly bus: EventBus;
  /** JSON `{"secret_key": "sk_...", "webhook_secret": "whsec_..."}`, read by the functions that call Stripe. */
  readonly stripeSecret: ISecret;
  /** A random string generated at deploy time, read by the functions that sign pagination cursors. */
  readonly cursorSecret: Secret;
  /** Per proxy upstream: the secret its requests are signed with (x-credits-signature), shared with its operator. */
  readonly upstreamSecrets: Record<string, Secret> = {};

  constructor(scope: Construct, id: string, props: DataStackProps = {}) {
    super(scope, id, props);
    const namePrefix = props.namePrefix ?? 'credits-billing';

    this.table = new Table(this, 'Table', {
      partitionKey: { name: tableSchema.partitionKey, type: AttributeType.STRING },
      sortKey: { name: tableSchema.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      timeToLiveAttribute: tableSchema.timeToLiveAttribute,
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
      stream: StreamViewType[tableSchema.streamViewType],
    });
    for (const index of tableSchema.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: {
          name: index.sortKey,
          type: index.sortKeyType === 'N' ? AttributeType.NUMBER : AttributeType.STRING,
        },
        projectionType: ProjectionType.ALL,
      });
    }

    this.bus = new EventBus(this, 'Bus', { eventBusName: `${namePrefix}-events` });
    const archive = this.bus.archive('Archive', {
      description: 'Every billing event published on the bus, for replay',
      eventPattern: { account: [this.account] },
      retention: props.archiveRetention ?? Duration.days(365),
    });
    // CDK writes an empty KmsKeyIdentifier when no key is given, which CloudFormation refuses in some regions
    // (aws/aws-cdk#37847): leaving the property out means the AWS-owned key, as intended.
    (archive.node.defaultChild as CfnArchive).addPropertyDeletionOverride('KmsKeyIdentifier');

    this.stripeSecret = this.stripeSecretFrom(props.stripeSecretArn ?? this.contextStripeSecretArn());

    this.cursorSecret = new Secret(this, 'CursorSigningKey', {
      description:
        'HMAC key that signs the API pagination cursors (generated; never shown to anyone). Replacing its ' +
        'value only makes cursors issued before it answer 400: clients start again from the first page.',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    Validations.of(this.cursorSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The cursor key protects only short-lived pagination cursors; rotating it by hand (put-secret-value) is enough',
    });

    for (const name of props.proxyUpstreams ?? []) {
      const secret = new Secret(this, `ProxyUpstreamSecret-${name}`, {
        description: `Signs the requests the metered proxy routes send to upstream "${name}" (x-credits-signature); give its value to that upstream`,
        generateSecretString: { passwordLength: 48, excludePunctuation: true },
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Rotating it needs the upstream to accept the new value at the same moment: done by hand (put-secret-value), the functions re-read it within 5 minutes',
      });
      this.upstreamSecrets[name] = secret;
      new CfnOutput(this, `ProxyUpstreamSecretArn${name.replace(/[^A-Za-z0-9]/g, '')}`, {
        value: secret.secretArn,
        description: `The signing secret of upstream "${name}": aws secretsmanager get-secret-value --secret-id <this ARN>`,
      });
    }

    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.bus.eventBusName });
    new CfnOutput(this, 'StripeSecretArn', {
      value: this.stripeSecret.secretArn,
      description: 'Put the Stripe keys here: aws secretsmanager put-secret-value --secret-id <this ARN>',
    });
  }

  private contextStripeSecretArn(): string | undefined {
    const arn: unknown = this.node.tryGetContext(STRIPE_SECRET_ARN_CONTEXT);
    if (arn === undefined || arn === '') return undefined;
    if (typeof arn !== 'string') throw new Error(`context ${STRIPE_SECRET_ARN_CONTEXT} must be a string`);
    return arn;
  }

  /** The operator's existing secret, or a new one holding a placeholder (never a real key in code or template). */
  private stripeSecretFrom(existingArn: string | undefined): ISecret {
    if (existingArn) return Secret.fromSecretCompleteArn(this, 'StripeSecret', existingArn);
    const secret = new Secret(this, 'StripeSecret', {
      description:
        'Stripe keys of the credits billing API, JSON {"secret_key":"sk_...","webhook_secret":"whsec_..."}. ' +
        'Created with a placeholder: put the real keys with aws secretsmanager put-secret-value ' +
        '--secret-id <StripeSecretArn output> --secret-string file://stripe-keys.json',
      generateSecretString: { ...STRIPE_SECRET_PLACEHOLDER },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Stripe keys are rolled in the Stripe Dashboard, then put here; Secrets Manager does not rotate them',
    });
    return secret;
  }
}
