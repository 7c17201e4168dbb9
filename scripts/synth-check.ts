// `npm run synth:check`: runs the real `cdk synth --quiet` the way an operator does, once per environment the
// CLI can resolve (us-east-1 and eu-west-1 with an account, and no AWS configuration at all), and fails on a
// non-zero exit or on any cdk-nag finding in the validation report, warnings included. Offline: it reaches no
// AWS endpoint (no credentials, no instance metadata, no notices, no telemetry). CI runs it (.ci/run).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

type Variant = { name: string; environment: Record<string, string> };

const variants: Variant[] = [
  { name: 'us-east-1', environment: { AWS_REGION: 'us-east-1', CDK_DEFAULT_ACCOUNT: '123456789012' } },
  { name: 'eu-west-1', environment: { AWS_REGION: 'eu-west-1', CDK_DEFAULT_ACCOUNT: '123456789012' } },
  // No region or account configured: the CLI falls back to us-east-1 and passes no account.
  { name: 'no AWS configuration', environment: {} },
];

/** The caller's environment without anything that would point the CLI at an AWS account or region. */
function offlineEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(AWS_|CDK_)/.test(name)) environment[name] = value;
  }
  return {
    ...environment,
    AWS_EC2_METADATA_DISABLED: 'true',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    ...extra,
  };
}

type Report = { pluginReports?: { pluginName: string; violations: { ruleName: string }[] }[] };

function check(variant: Variant): string | undefined {
  const outdir = mkdtempSync(path.join(tmpdir(), 'credits-synth-'));
  try {
    const started = performance.now();
    const run = spawnSync('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', outdir], {
      env: offlineEnvironment(variant.environment),
      encoding: 'utf8',
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (run.status !== 0) {
      const output = `${run.stdout}${run.stderr}`.trim().split('\n').slice(-15).join('\n');
      return `cdk synth exited ${run.status ?? run.signal} after ${seconds} s:\n${output}`;
    }
    const reportFile = path.join(outdir, 'validation-report.json');
    if (existsSync(reportFile)) {
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
      const findings = (report.pluginReports ?? []).flatMap((plugin) =>
        plugin.violations.map((violation) => `${plugin.pluginName}: ${violation.ruleName}`),
      );
      if (findings.length > 0) return `cdk-nag findings:\n  ${findings.join('\n  ')}`;
    }
    console.log(`✓ cdk synth --quiet (${variant.name}): exit 0, no cdk-nag finding, ${seconds} s`);
    return undefined;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

let failed = 0;
for (const variant of variants) {
  const problem = check(variant);
  if (problem) {
    failed += 1;
    console.error(`✗ cdk synth --quiet (${variant.name}): ${problem}`);
  }
}
process.exit(failed > 0 ? 1 : 0);
