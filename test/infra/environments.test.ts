// `cdk synth` as the CLI runs it: the CLI always resolves a region (us-east-1 by default) and, with credentials,
// an account, and the stacks are built for that concrete environment. Names and ARNs then contain the real
// account and region, so everything keyed on them (cdk-nag acknowledgments above all) must hold for each
// environment, not only for the agnostic one. Built without bundles: the templates are otherwise the same,
// and nag.test.ts checks the bundled agnostic app.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { cliEnvironment } from '#infra/build.ts';
import { buildUnbundled, resources, SYNTH_ENVIRONMENTS } from './synth.ts';

type Report = { pluginReports: { pluginName: string; violations: unknown[] }[] };

describe.each(Object.entries(SYNTH_ENVIRONMENTS))('cdk synth for the %s environment', (_name, env) => {
  const built = buildUnbundled({}, { nag: true, ...(env ? { env } : {}) });
  // cdk-nag errors fail synthesis itself: reaching the report proves there were none.
  const assembly = built.app.synth();
  const report = JSON.parse(
    readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8'),
  ) as Report;
  const templates = { data: Template.fromStack(built.data), dashboard: Template.fromStack(built.dashboard) };
  rmSync(assembly.directory, { recursive: true, force: true });

  it('synthesizes with no unacknowledged cdk-nag finding, errors or warnings', () => {
    // The report lists only plugins that found something; the suppressions cdk-nag writes into the
    // templates show that it did run.
    expect(report.pluginReports.flatMap((plugin) => plugin.violations)).toEqual([]);
    expect(JSON.stringify(templates.dashboard.toJSON())).toContain('"cdk_nag"');
  });

  it('puts the concrete account and region into the stacks', () => {
    for (const stack of [built.data, built.api, built.dashboard]) {
      expect(stack.environment).toBe(
        `aws://${env?.account ?? 'unknown-account'}/${env?.region ?? 'unknown-region'}`,
      );
    }
  });

  it('writes no empty KmsKeyIdentifier on the event archive (some regions refuse it)', () => {
    const archives = Object.values(resources(templates.data)).filter(
      (resource) => resource.Type === 'AWS::Events::Archive',
    );
    expect(archives).toHaveLength(1);
    expect(archives[0]?.Properties).not.toHaveProperty('KmsKeyIdentifier');
    expect(archives[0]?.Properties?.RetentionDays).toBe(365);
  });

  it('acknowledges the bootstrap assets bucket under the name the environment gives it', () => {
    const account = env?.account ?? '<AWS::AccountId>';
    const region = env?.region ?? '<AWS::Region>';
    const acknowledged = JSON.stringify(templates.dashboard.toJSON());
    expect(acknowledged).toContain(
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-${account}-${region}/*]`,
    );
  });
});

describe('the environment the cdk entry point builds for', () => {
  it('is what the CLI resolved: its region always, the account when it found credentials', () => {
    expect(cliEnvironment({ CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' })).toEqual({
      account: '123456789012',
      region: 'eu-west-1',
    });
    expect(cliEnvironment({ CDK_DEFAULT_REGION: 'us-east-1' })).toEqual({ region: 'us-east-1' });
    expect(cliEnvironment({ CDK_DEFAULT_ACCOUNT: '', CDK_DEFAULT_REGION: '' })).toBeUndefined();
    expect(cliEnvironment({})).toBeUndefined();
  });
});

describe('the cdk entry point given a wrong context value', () => {
  it('stops with one line naming the value, not a stack trace', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'credits-cdk-'));
    try {
      const run = spawnSync('node', ['infra/app.ts'], {
        cwd: path.resolve(import.meta.dirname, '..', '..'),
        // How the CLI hands `-c publicBaseUrl=...` and the output directory to the app.
        env: {
          ...process.env,
          CDK_CONTEXT_JSON: JSON.stringify({ publicBaseUrl: 'ftp://billing' }),
          CDK_OUTDIR: outdir,
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr.trim().split('\n')).toEqual([
        'cdk synth: publicBaseUrl must be an http(s) URL, got "ftp://billing"',
      ]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
