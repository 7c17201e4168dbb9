// The dashboard stack on its own (a stub HTTP API stands in for CreditsApi, so nothing is bundled): a private,
// encrypted, SSL-only bucket behind CloudFront with origin access control, the API's paths on the same
// distribution without caching, the page's security headers, BucketDeployment, the URL published for the API's
// checkout functions, and cdk-nag clean.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import cdkNag from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import { API_PATH_PATTERNS, DashboardStack } from '#infra/stacks/dashboard-stack.ts';
import { CONTENT_SECURITY_POLICY, DASHBOARD_DIST } from '../../dashboard/build.ts';
import { DASHBOARD_ACKNOWLEDGMENTS } from './dashboard-acknowledgments.ts';
import { resources } from './synth.ts';

const { AwsSolutionsChecks } = cdkNag;

const outdir = mkdtempSync(path.join(tmpdir(), 'credits-dashboard-'));
const app = new App({ outdir });
const apiStack = new Stack(app, 'ApiStub');
const api = new HttpApi(apiStack, 'HttpApi');
const stack = new DashboardStack(app, 'CreditsDashboard', {
  api,
  dashboardUrlParameterName: '/credits-billing/dashboard-url',
});
const template = Template.fromStack(stack);
const all = resources(template);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** AWS's managed origin request policy for API Gateway origins (everything but Host). */
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
/** AWS's managed CachingOptimized cache policy. */
const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';

const ofType = (type: string) => Object.entries(all).filter(([, resource]) => resource.Type === type);
const idOf = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as never);

type DistributionConfig = {
  DefaultRootObject: string;
  Origins: {
    Id: string;
    DomainName: unknown;
    S3OriginConfig?: unknown;
    OriginAccessControlId?: unknown;
    CustomOriginConfig?: Record<string, unknown>;
  }[];
  DefaultCacheBehavior: Record<string, unknown>;
  CacheBehaviors: Record<string, unknown>[];
  Logging: Record<string, unknown>;
};
const distribution = () => {
  const [entry] = ofType('AWS::CloudFront::Distribution');
  return (entry![1].Properties as { DistributionConfig: DistributionConfig }).DistributionConfig;
};

describe('dashboard stack', () => {
  it('builds the dashboard under dashboard/dist for BucketDeployment', () => {
    expect(path.dirname(stack.siteDirectory)).toBe(DASHBOARD_DIST);
    expect(existsSync(path.join(stack.siteDirectory, 'index.html'))).toBe(true);
    expect(existsSync(path.join(stack.siteDirectory, 'assets'))).toBe(true);
  });

  it('keeps the site bucket private, encrypted, SSL-only, versioned and access-logged', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: { Ref: idOf(stack.logBucket) }, LogFilePrefix: 's3/' },
    });
    // S3 delivers its logs under a bucket policy; ACLs are enabled only for CloudFront's log delivery.
    expect(all[idOf(stack.logBucket)]?.Properties).toMatchObject({
      OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] },
    });
    expect(all[idOf(stack.logBucket)]?.Properties?.AccessControl).toBeUndefined();
    for (const bucket of [stack.bucket, stack.logBucket]) {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: idOf(bucket) },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('lets only this distribution read the bucket, through origin access control', () => {
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: {
        OriginAccessControlOriginType: 's3',
        SigningBehavior: 'always',
        SigningProtocol: 'sigv4',
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: idOf(stack.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 's3:GetObject',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Condition: { StringEquals: { 'AWS:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
    const s3Origin = distribution().Origins.find((origin) => origin.S3OriginConfig);
    expect(s3Origin?.OriginAccessControlId).toBeDefined();
    expect(s3Origin?.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
  });

  it('serves index.html at / over HTTPS with the page security headers and access logs', () => {
    const config = distribution();
    expect(config.DefaultRootObject).toBe('index.html');
    expect(config.DefaultCacheBehavior).toMatchObject({
      ViewerProtocolPolicy: 'redirect-to-https',
      CachePolicyId: CACHING_OPTIMIZED,
      Compress: true,
    });
    expect(config.Logging).toMatchObject({ Prefix: 'cloudfront/' });
    template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: {
        SecurityHeadersConfig: Match.objectLike({
          ContentSecurityPolicy: { ContentSecurityPolicy: CONTENT_SECURITY_POLICY, Override: true },
          FrameOptions: { FrameOption: 'DENY', Override: true },
          StrictTransportSecurity: Match.objectLike({ AccessControlMaxAgeSec: 31_536_000 }),
        }),
      },
    });
  });

  it('sends exactly the API paths to the HTTP API, uncached, with the token forwarded and Host not', () => {
    const config = distribution();
    const apiOrigin = config.Origins.find((origin) => origin.CustomOriginConfig);
    expect(apiOrigin?.CustomOriginConfig).toMatchObject({
      OriginProtocolPolicy: 'https-only',
      OriginSSLProtocols: ['TLSv1.2'],
    });
    // The API's endpoint, https://<id>.execute-api.<region>.amazonaws.com, reduced to its host.
    expect(JSON.stringify(apiOrigin?.DomainName)).toContain('Fn::Split');
    expect(config.CacheBehaviors.map((behavior) => behavior.PathPattern)).toEqual([...API_PATH_PATTERNS]);
    const [cachePolicy] = ofType('AWS::CloudFront::CachePolicy');
    for (const behavior of config.CacheBehaviors) {
      expect(behavior).toMatchObject({
        TargetOriginId: apiOrigin?.Id,
        ViewerProtocolPolicy: 'https-only',
        AllowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'],
        OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
        CachePolicyId: { Ref: cachePolicy![0] },
      });
    }
    expect(cachePolicy![1].Properties).toMatchObject({
      CachePolicyConfig: {
        DefaultTTL: 0,
        MinTTL: 0,
        MaxTTL: 1,
        ParametersInCacheKeyAndForwardedToOrigin: {
          HeadersConfig: { HeaderBehavior: 'whitelist', Headers: ['authorization'] },
          QueryStringsConfig: { QueryStringBehavior: 'all' },
          // The session cookie is part of the key: no answer cached for one session is served to another.
          CookiesConfig: { CookieBehavior: 'whitelist', Cookies: ['__Host-credits_session'] },
        },
      },
    });
  });

  it('sends /auth/* to the API with every cookie forwarded, so the session cookie reaches the sign-in routes', () => {
    const config = distribution();
    const auth = config.CacheBehaviors.find((behavior) => behavior.PathPattern === '/auth/*');
    // The managed AllViewerExceptHostHeader policy forwards all viewer cookies (and headers but Host).
    expect(auth).toMatchObject({ OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER });
    expect(API_PATH_PATTERNS).toContain('/auth/*');
  });

  it('uploads hashed assets as immutable, then index.html revalidated with an invalidation', () => {
    const deployments = ofType('Custom::CDKBucketDeployment');
    expect(deployments).toHaveLength(2);
    const byCache = Object.fromEntries(
      deployments.map(([id, resource]) => [
        String((resource.Properties!.SystemMetadata as { 'cache-control': string })['cache-control']),
        {
          id,
          properties: resource.Properties!,
          dependsOn: (resource as { DependsOn?: string[] }).DependsOn ?? [],
        },
      ]),
    );
    const assets = byCache['public, max-age=31536000, immutable'];
    const page = byCache['no-cache'];
    expect(assets?.properties).toMatchObject({
      Prune: false,
      DestinationBucketName: { Ref: idOf(stack.bucket) },
    });
    expect(page?.properties).toMatchObject({
      Prune: false,
      DestinationBucketName: { Ref: idOf(stack.bucket) },
      DistributionPaths: ['/', '/index.html'],
    });
    expect(page?.dependsOn).toContain(assets?.id);
    template.hasOutput('DashboardUrl', {});
  });

  it("publishes the dashboard's URL in the named SSM parameter, the same value as the DashboardUrl output", () => {
    const url = {
      'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [idOf(stack.distribution), 'DomainName'] }]],
    };
    template.resourceCountIs('AWS::SSM::Parameter', 1);
    expect(all[idOf(stack.dashboardUrlParameter)]?.Properties).toMatchObject({
      Name: '/credits-billing/dashboard-url',
      Type: 'String',
      Value: url,
    });
    template.hasOutput('DashboardUrl', { Value: url });
  });

  it('passes cdk-nag AwsSolutions with only the reviewed acknowledgments', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
    const acks: string[] = [];
    const visit = (construct: IConstruct) => {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          expect(reason.length, id).toBeGreaterThan(20);
          acks.push(`${id.replace(/^annotation::/i, '')}@${construct.node.path}`);
        }
      }
      for (const child of construct.node.children) visit(child);
    };
    visit(stack);
    expect(acks.sort()).toEqual(DASHBOARD_ACKNOWLEDGMENTS.sort());

    // None is stale: with acknowledgments ignored, each one names a real finding.
    const pack = new AwsSolutionsChecks(undefined, { verbose: false });
    (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const findings = pack
      .validateScope(stack)
      .violations.flatMap((violation) =>
        violation.violatingResources.map((resource) => `${violation.ruleName}@${resource.constructPath}`),
      );
    for (const ack of acks) {
      const [rule, at] = ack.split('@') as [string, string];
      expect(
        findings.some((finding) => finding.startsWith(`${rule}@${at}`)),
        ack,
      ).toBe(true);
    }
  });
});
