// cdk-nag v3 runs as a CDK validation plugin during synthesis: an unacknowledged error fails `app.synth()`
// (so synthesizeApp() succeeding already proves there is none), and every violation, warnings included,
// is written to the assembly's validation-report.json. Acknowledgments are Validations.of(x).acknowledge().
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import cdkNag from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import { type FunctionSpec, functions } from '#infra/definitions/functions.ts';
import { routeKey, routes } from '#infra/definitions/routes.ts';
import { DASHBOARD_ACKNOWLEDGMENTS } from './dashboard-acknowledgments.ts';
import { removeAssembly, synthesizeApp } from './synth.ts';

const { AwsSolutionsChecks } = cdkNag;
const synthesized = synthesizeApp();
const { app, api, data, dashboard } = synthesized;
afterAll(() => removeAssembly(synthesized));

type Report = {
  pluginReports: { pluginName: string; violations: { ruleName: string; severity: string }[] }[];
};
type Violation = { ruleName: string; severity: string; violatingResources: { constructPath?: string }[] };

/** Every AwsSolutions finding, acknowledged or not, as `ruleId@constructPath`. */
function rawFindings(): string[] {
  const pack = new AwsSolutionsChecks(undefined, { verbose: false });
  // The pack's private acknowledgment check is what filters findings; bypass it to see them all.
  const internals = pack as unknown as { isAcknowledged: unknown };
  if (typeof internals.isAcknowledged !== 'function')
    throw new Error('cdk-nag internals changed: update this test');
  internals.isAcknowledged = () => false;
  const report = pack.validateScope(app);
  return (report.violations as Violation[]).flatMap((v) =>
    v.violatingResources.map((r) => `${v.ruleName}@${r.constructPath ?? '?'}`),
  );
}

/** Every acknowledgment in the app: the rule id (without the `Annotation::` prefix), where and why. */
function acknowledgments(): { id: string; path: string; reason: string }[] {
  const found: { id: string; path: string; reason: string }[] = [];
  const visit = (construct: IConstruct) => {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.push({ id: id.replace(/^annotation::/i, ''), path: construct.node.path, reason });
      }
    }
    for (const child of construct.node.children) visit(child);
  };
  visit(app);
  return found;
}

describe('cdk-nag AwsSolutions', () => {
  it('synthesizes the whole app with the checks registered (errors would have failed synthesis)', () => {
    expect(synthesized.assemblyDirectory).toBeTruthy();
  });

  it('reports no unacknowledged violation, errors or warnings, in the validation report', () => {
    const report = JSON.parse(
      readFileSync(path.join(synthesized.assemblyDirectory, 'validation-report.json'), 'utf8'),
    ) as Report;
    const nag = report.pluginReports.filter((plugin) => plugin.pluginName === 'AwsSolutions');
    expect(nag.flatMap((plugin) => plugin.violations)).toEqual([]);
  });

  it('finds no unacknowledged violation when run directly on the synthesized app', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(app);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.description}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('leaves no AwsSolutions errors or warnings in the annotations of either stack', () => {
    for (const stack of [data, api, dashboard]) {
      const annotations = Annotations.fromStack(stack);
      expect(annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
      expect(annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    }
  });

  it('acknowledges only the reviewed rules, each with a reason', () => {
    const acks = acknowledgments();
    for (const ack of acks) expect(ack.reason.length, ack.path).toBeGreaterThan(20);
    const expected = [
      ...routes
        .filter((route) => route.auth !== 'iam')
        .map(
          (route) =>
            `AwsSolutions-APIG4@CreditsApi/HttpApi/${routeKey(route).replace(/\//g, '--').replace(' ', '')}`,
        ),
      ...Object.entries(functions)
        .filter(([, spec]) => (spec as FunctionSpec).marketplace?.length)
        .map(([name]) => `AwsSolutions-IAM5[Resource::*]@CreditsApi/${name}/Role`),
      'AwsSolutions-SQS3@CreditsApi/JobsDeadLetterQueue',
      'AwsSolutions-SQS3@CreditsApi/JobFailureQueue',
      'AwsSolutions-SQS3@CreditsApi/StreamFailureQueue',
      'AwsSolutions-SMG4@CreditsData/StripeSecret',
      'AwsSolutions-SMG4@CreditsData/CursorSigningKey',
      // One signing secret per configured proxy upstream (the synthesized app configures `sample`).
      'AwsSolutions-SMG4@CreditsData/ProxyUpstreamSecret-sample',
      ...DASHBOARD_ACKNOWLEDGMENTS,
    ];
    expect(acks.map((ack) => `${ack.id}@${ack.path}`).sort()).toEqual(expected.sort());
  });

  it('needs no acknowledgment for the refill, invoice and webhook queues (SQS2/SQS3/SQS4 are met; the DLQs are by redrive)', () => {
    const onRefillQueues = rawFindings().filter((finding) =>
      /@CreditsApi\/(Refill|Invoice|Webhook)(DeadLetter)?Queue(\/|$)/.test(finding),
    );
    expect(onRefillQueues).toEqual([]);
  });

  it('gives the reviewed reasons for the public Stripe routes and the unrotated Stripe secret', () => {
    const reasonAt = (id: string, at: string) =>
      acknowledgments().find((ack) => ack.id === id && ack.path === at)?.reason;
    expect(reasonAt('AwsSolutions-APIG4', 'CreditsApi/HttpApi/POST--webhooks--stripe')).toBe(
      'Stripe webhooks are authenticated by their signature, verified on the raw body in the function',
    );
    expect(reasonAt('AwsSolutions-APIG4', 'CreditsApi/HttpApi/GET--billing--return')).toBe(
      "Stripe's browser redirect after payment; it only re-reads the payment from Stripe and reveals nothing",
    );
    expect(reasonAt('AwsSolutions-SMG4', 'CreditsData/StripeSecret')).toMatch(
      /rolled in the Stripe Dashboard/,
    );
  });

  it('has no stale acknowledgment: each one covers a real finding, and every finding is covered', () => {
    const findings = rawFindings();
    const acks = acknowledgments();
    const covers = (ack: { id: string; path: string }, finding: string) => {
      const [rule, at = ''] = finding.split('@');
      return rule === ack.id && (at === ack.path || at.startsWith(`${ack.path}/`));
    };
    for (const ack of acks)
      expect(
        findings.some((f) => covers(ack, f)),
        `${ack.id}@${ack.path}`,
      ).toBe(true);
    for (const finding of findings)
      expect(
        acks.some((ack) => covers(ack, finding)),
        finding,
      ).toBe(true);
  });
});
