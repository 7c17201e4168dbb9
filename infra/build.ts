// Builds the whole CDK app; app.ts (the `cdk` entry point) and the infra tests both call this, so the tests
// check exactly what `cdk synth` produces, cdk-nag included.
import { type App, type Environment, Token, Validations } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';
import { MARKETPLACE_EVENTS_REGION } from './constructs/marketplace-events.ts';
import { PROXY_UPSTREAMS_CONTEXT, proxyUpstreamsFrom } from './constructs/proxy-upstreams.ts';
import { routes } from './definitions/routes.ts';
import { ApiStack } from './stacks/api-stack.ts';
import { DashboardStack } from './stacks/dashboard-stack.ts';
import { DataStack } from './stacks/data-stack.ts';
import { MarketplaceForwarderStack } from './stacks/marketplace-forwarder-stack.ts';

const { AwsSolutionsChecks } = cdkNag;

export type CreditsApp = {
  data: DataStack;
  api: ApiStack;
  dashboard: DashboardStack;
  /** In us-east-1, when the app's region is another concrete one: forwards the Marketplace events. */
  marketplaceEvents?: MarketplaceForwarderStack;
};

export type BuildOptions = {
  /** @default environment-agnostic stacks */
  env?: Environment;
  /** Apply the cdk-nag AwsSolutions checks. @default true */
  nag?: boolean;
};

/**
 * The environment `cdk synth` asks for. The CLI always sets CDK_DEFAULT_REGION (its configured region, or
 * us-east-1) and CDK_DEFAULT_ACCOUNT when it found credentials; stacks then resolve account and region into
 * names and ARNs, which is what a deployment gets. Nothing set (a plain `node infra/app.ts`): agnostic.
 */
export function cliEnvironment(variables: NodeJS.ProcessEnv): Environment | undefined {
  const account = variables.CDK_DEFAULT_ACCOUNT || undefined;
  const region = variables.CDK_DEFAULT_REGION || undefined;
  if (!account && !region) return undefined;
  return { ...(account ? { account } : {}), ...(region ? { region } : {}) };
}

/** CDK's feature flag for cross-stack references; the API stack imports the table and bus from the data stack. */
const CROSS_STACK_REFERENCES = '@aws-cdk/core:defaultCrossStackReferences';

export function buildApp(app: App, options: BuildOptions = {}): CreditsApp {
  // Lock in CloudFormation exports ('strong', the long-standing behaviour) unless cdk.json chooses otherwise.
  if (app.node.tryGetContext(CROSS_STACK_REFERENCES) === undefined) {
    app.node.setContext(CROSS_STACK_REFERENCES, 'strong');
  }
  const upstreams = proxyUpstreamsFrom(app.node.tryGetContext(PROXY_UPSTREAMS_CONTEXT), routes);
  const data = new DataStack(app, 'CreditsData', {
    env: options.env,
    proxyUpstreams: [...upstreams.keys()],
    description: 'Credits billing: single DynamoDB table, event bus and Stripe secret (stateful)',
  });
  const api = new ApiStack(app, 'CreditsApi', {
    env: options.env,
    description: 'Credits billing: HTTP API, functions, scheduled jobs and alarms',
    table: data.table,
    bus: data.bus,
    stripeSecret: data.stripeSecret,
    cursorSecret: data.cursorSecret,
    proxyUpstreams: Object.fromEntries(
      [...upstreams].map(([name, url]) => [name, { url, secret: data.upstreamSecrets[name]! }]),
    ),
  });
  const dashboard = new DashboardStack(app, 'CreditsDashboard', {
    env: options.env,
    description: 'Credits billing: the billing dashboard (S3, CloudFront) with the API on the same origin',
    api: api.api,
    dashboardUrlParameterName: api.dashboardUrlParameterName,
  });
  // AWS Marketplace's agreement and licence events reach only us-east-1's default bus. An environment-agnostic
  // app cannot know its region at synth time: it keeps the lifecycle rule alone (right in us-east-1 only).
  const region = options.env?.region;
  const marketplaceEvents =
    region && !Token.isUnresolved(region) && region !== MARKETPLACE_EVENTS_REGION
      ? new MarketplaceForwarderStack(app, 'CreditsMarketplaceEvents', {
          env: { ...options.env, region: MARKETPLACE_EVENTS_REGION },
          // One per deployment region: two deployments of one account must not share a stack name.
          stackName: `CreditsMarketplaceEvents-${region}`,
          description: `Credits billing: forwards AWS Marketplace agreement and licence events to ${region}`,
          targetRegion: region,
          eventPattern: api.marketplaceEventPattern,
        })
      : undefined;
  if (options.nag ?? true) {
    // cdk-nag v3 is a CDK validation plugin: unacknowledged errors fail synthesis, and every violation
    // (warnings too) lands in the assembly's validation-report.json. Acknowledgments are also written to
    // the templates' Metadata (cdk_nag.rules_to_suppress) as an audit trail.
    Validations.of(app).addPlugins(
      new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
    );
  }
  return { data, api, dashboard, ...(marketplaceEvents ? { marketplaceEvents } : {}) };
}
