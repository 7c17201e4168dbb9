// The `cdk` entry point (cdk.json: `node infra/app.ts`): the stacks and the cdk-nag AwsSolutions checks
// are assembled by buildApp, which the infra tests use too.
import { App } from 'aws-cdk-lib';
import { buildApp } from './build.ts';

const app = new App();
buildApp(app, {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  nag: true,
});
app.synth();
