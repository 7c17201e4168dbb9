// The `cdk` entry point (cdk.json: `node infra/app.ts`): the stacks and the cdk-nag AwsSolutions checks
// are assembled by buildApp, which the infra tests use too, for the environment the CLI resolved.
import { App } from 'aws-cdk-lib';
import { buildApp, cliEnvironment } from './build.ts';

try {
  const app = new App();
  buildApp(app, { env: cliEnvironment(process.env), nag: true });
  app.synth();
} catch (error) {
  // A wrong context value is the operator's to fix, not a crash: one line naming it. CDK_DEBUG shows where.
  const message = error instanceof Error ? error.message : String(error);
  console.error(`cdk synth: ${message}`);
  if (process.env.CDK_DEBUG) console.error(error);
  process.exit(1);
}
