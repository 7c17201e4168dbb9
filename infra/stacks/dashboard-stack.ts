// The billing dashboard in the cloud: its static files in a private S3 bucket served by CloudFront (origin
// access control), with the API's public paths behind the same distribution, so the page calls the API on
// its own origin and no CORS is needed. BucketDeployment uploads the esbuild output of dashboard/.
import {
  CfnOutput,
  DefaultStackSynthesizer,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  type StackProps,
  Token,
  Validations,
} from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AllowedMethods,
  type BehaviorOptions,
  CacheCookieBehavior,
  CacheHeaderBehavior,
  CachePolicy,
  CacheQueryStringBehavior,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  OriginSslPolicy,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { CONTENT_SECURITY_POLICY, writeDashboard } from '../../dashboard/build.ts';

/** CDK context naming the bootstrap qualifier (`cdk bootstrap --qualifier`), part of the assets bucket's name. */
const BOOTSTRAP_QUALIFIER_CONTEXT = '@aws-cdk/core:bootstrapQualifier';

/** The API's paths a browser (or Stripe, or AWS Marketplace) reaches through the dashboard's domain. */
export const API_PATH_PATTERNS = ['/v1/*', '/auth/*', '/billing/*', '/webhooks/*', '/marketplace/*'] as const;

export type DashboardStackProps = StackProps & {
  /** The HTTP API the page calls; CloudFront forwards the API paths to its default stage. */
  api: HttpApi;
  /**
   * The SSM parameter to publish the dashboard's URL in, which the API's checkout functions read to accept
   * return URLs on the dashboard's origin (the API stack cannot refer to this one: it would be a cycle).
   */
  dashboardUrlParameterName: string;
};

export class DashboardStack extends Stack {
  readonly bucket: Bucket;
  readonly logBucket: Bucket;
  readonly distribution: Distribution;
  readonly dashboardUrlParameter: StringParameter;
  /** The built dashboard this stack deploys. */
  readonly siteDirectory: string;

  constructor(scope: Construct, id: string, props: DashboardStackProps) {
    super(scope, id, props);
    // Built on every synth, so a deployment always ships the page that matches this commit.
    this.siteDirectory = writeDashboard().directory;

    // S3 delivers the site bucket's access logs under a bucket policy (not the legacy log-delivery ACL);
    // set for this stack only, before its buckets exist.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    // Access logs of the bucket and the distribution. CloudFront's standard logs are delivered with ACLs,
    // hence ObjectOwnership.OBJECT_WRITER on this bucket only.
    this.logBucket = new Bucket(this, 'AccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucket = new Bucket(this, 'Site', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 's3/',
      versioned: true,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The API behind the same origin. Nothing is cached: the cache key holds the Authorization header (the
    // only way CloudFront forwards it), the dashboard's session cookie and every query string, with TTLs of zero unless the API asks for
    // more (capped at 1 s). The origin request policy forwards every other header except Host, which API
    // Gateway needs to be its own domain.
    const apiCachePolicy = new CachePolicy(this, 'ApiPassThrough', {
      comment: 'Credits billing API: keyed by token and query, not cached',
      defaultTtl: Duration.seconds(0),
      minTtl: Duration.seconds(0),
      maxTtl: Duration.seconds(1),
      headerBehavior: CacheHeaderBehavior.allowList('authorization'),
      // Never one person's answer for another's session, even within the 1 s cap (shared/auth/cookie.ts).
      cookieBehavior: CacheCookieBehavior.allowList('__Host-credits_session'),
      queryStringBehavior: CacheQueryStringBehavior.all(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    const apiOrigin = new HttpOrigin(Fn.select(2, Fn.split('/', props.api.apiEndpoint)), {
      protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [OriginSslPolicy.TLS_V1_2],
    });
    const apiBehavior: BehaviorOptions = {
      origin: apiOrigin,
      // No redirect: a redirected POST would lose its body, so plain HTTP is refused instead.
      viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: AllowedMethods.ALLOW_ALL,
      cachePolicy: apiCachePolicy,
      originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      compress: true,
    };

    const pageHeaders = new ResponseHeadersPolicy(this, 'PageHeaders', {
      comment: 'Credits billing dashboard: security headers',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: CONTENT_SECURITY_POLICY, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });

    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Credits billing dashboard and API',
      defaultRootObject: 'index.html',
      httpVersion: HttpVersion.HTTP2_AND_3,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: pageHeaders,
        compress: true,
      },
      additionalBehaviors: Object.fromEntries(API_PATH_PATTERNS.map((pattern) => [pattern, apiBehavior])),
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason: 'Customers may sign in from any country; the API refuses unknown tokens whatever the origin',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'No WAF by default: the API stage is throttled and every route authenticates; attach a web ACL per deployment if wanted',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The default *.cloudfront.net certificate allows TLS 1.0 viewers; a custom domain with an ACM certificate sets TLS 1.2',
      },
    );

    // Content-hashed assets first (immutable), then index.html (always revalidated), so a browser never
    // gets a page naming assets not uploaded yet. Neither prunes: pages still cached name older assets.
    const assets = new BucketDeployment(this, 'DeployAssets', {
      sources: [Source.asset(this.siteDirectory, { exclude: ['index.html'] })],
      destinationBucket: this.bucket,
      cacheControl: [CacheControl.fromString('public, max-age=31536000, immutable')],
      prune: false,
      memoryLimit: 256,
    });
    const page = new BucketDeployment(this, 'DeployPage', {
      sources: [Source.asset(this.siteDirectory, { exclude: ['assets', 'assets/**'] })],
      destinationBucket: this.bucket,
      cacheControl: [CacheControl.noCache()],
      prune: false,
      memoryLimit: 256,
      distribution: this.distribution,
      distributionPaths: ['/', '/index.html'],
    });
    page.node.addDependency(assets);
    this.acknowledgeDeploymentHandler();

    const dashboardUrl = `https://${this.distribution.distributionDomainName}`;
    this.dashboardUrlParameter = new StringParameter(this, 'DashboardUrlParameter', {
      parameterName: props.dashboardUrlParameterName,
      stringValue: dashboardUrl,
      description: 'The billing dashboard URL: checkout accepts return URLs on its origin',
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: dashboardUrl,
      description: 'The billing dashboard (and the API under /v1) on one origin',
    });
  }

  /**
   * The bootstrap assets bucket's objects as cdk-nag names them: `cdk synth` always passes a concrete account
   * and region (the CLI defaults the region), which CDK writes into the bucket name, while an
   * environment-agnostic stack keeps the pseudo parameters. Both must match, or the real command fails.
   */
  private bootstrapAssetsObjects(): string {
    const qualifier: unknown =
      this.node.tryGetContext(BOOTSTRAP_QUALIFIER_CONTEXT) ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    const account = Token.isUnresolved(this.account) ? '<AWS::AccountId>' : this.account;
    const region = Token.isUnresolved(this.region) ? '<AWS::Region>' : this.region;
    return `arn:<AWS::Partition>:s3:::cdk-${String(qualifier)}-assets-${account}-${region}/*`;
  }

  /**
   * BucketDeployment's handler is a CDK-managed singleton Lambda whose role and runtime CDK writes; these
   * are its reviewed findings. It runs only during deployments.
   */
  private acknowledgeDeploymentHandler(): void {
    const handler = this.node.children.find((child) =>
      child.node.id.startsWith('Custom::CDKBucketDeployment'),
    );
    if (!handler)
      throw new Error('BucketDeployment created no handler: review the dashboard acknowledgments');
    const assetRead =
      'BucketDeployment reads the uploaded dashboard zip from the CDK bootstrap assets bucket only';
    const siteWrite = 'BucketDeployment writes the dashboard files into the site bucket only (this stack)';
    Validations.of(handler).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'The CDK-managed BucketDeployment handler writes only its own logs with the basic execution policy',
      },
      {
        id: 'AwsSolutions-IAM5[Action::s3:GetObject*]',
        reason: `${assetRead}; and the site bucket (this stack)`,
      },
      {
        id: 'AwsSolutions-IAM5[Action::s3:GetBucket*]',
        reason: `${assetRead}; and the site bucket (this stack)`,
      },
      { id: 'AwsSolutions-IAM5[Action::s3:List*]', reason: `${assetRead}; and the site bucket (this stack)` },
      { id: `AwsSolutions-IAM5[Resource::${this.bootstrapAssetsObjects()}]`, reason: assetRead },
      { id: 'AwsSolutions-IAM5[Action::s3:DeleteObject*]', reason: siteWrite },
      { id: 'AwsSolutions-IAM5[Action::s3:Abort*]', reason: siteWrite },
      {
        id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.bucket.node.defaultChild as CfnBucket)}.Arn>/*]`,
        reason: siteWrite,
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'cloudfront:CreateInvalidation and GetInvalidation after an upload, which CDK grants on * for the handler',
      },
      {
        id: 'AwsSolutions-L1',
        reason:
          'CDK pins the BucketDeployment handler runtime (Python 3.13); it moves with aws-cdk-lib upgrades',
      },
    );
  }
}
