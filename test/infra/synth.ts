// Builds and synthesizes the whole CDK app exactly as `cdk synth` does (buildApp, cdk-nag included), once per
// test file: synthesis bundles every function with esbuild. Plus small helpers to read the templates.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, type CfnElement, type Environment, type Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp, type CreditsApp } from '#infra/build.ts';

export type SynthesizedApp = CreditsApp & { app: App; assemblyDirectory: string; seconds: number };

/** The environments `cdk synth` builds for: the CLI always passes a region (us-east-1 unless configured). */
export const SYNTH_ENVIRONMENTS: Record<string, Environment | undefined> = {
  agnostic: undefined,
  'us-east-1': { account: '123456789012', region: 'us-east-1' },
  'eu-west-1': { account: '123456789012', region: 'eu-west-1' },
  // No credentials at all: the CLI still passes its default region, but no account.
  'us-east-1 without an account': { region: 'us-east-1' },
};

/**
 * CDK prints "Bundling asset …" for every function straight to stderr; in a test run that is noise on every
 * synthesis. Errors still come through: only those lines are dropped, and only while synthesizing.
 */
export function withQuietBundling<T>(synthesize: () => T): T {
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) =>
    String(chunk).startsWith('Bundling asset ')
      ? true
      : write.call(process.stderr, chunk, ...rest)) as typeof process.stderr.write;
  try {
    return synthesize();
  } finally {
    process.stderr.write = write;
  }
}

/** `nag: false` keeps template assertions independent of cdk-nag (nag.test.ts runs it on the same app). */
/** The upstreams of the route table's proxy routes, as an operator would give them (`-c proxyUpstreams=...`). */
export const PROXY_UPSTREAMS = { sample: 'https://sample.example.com/api' };

/** Synthesized with every proxy route's upstream configured, so every route of the table is deployed. */
export function synthesizeApp(options: { nag?: boolean; env?: Environment } = {}): SynthesizedApp {
  const started = performance.now();
  const app = new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'credits-cdk-')),
    context: { proxyUpstreams: JSON.stringify(PROXY_UPSTREAMS) },
  });
  // Functions are bundled as they are constructed, so the quiet covers building as well as synthesizing.
  const { stacks, assembly } = withQuietBundling(() => {
    const built = buildApp(app, { nag: options.nag ?? true, ...(options.env ? { env: options.env } : {}) });
    return { stacks: built, assembly: app.synth() };
  });
  return {
    ...stacks,
    app,
    assemblyDirectory: assembly.directory,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Builds the app under the given CDK context (as `cdk synth -c key=value` does) without bundling the functions:
 * asset hashes are dummies, the templates are otherwise the same. For variations that need no bundles.
 */
export function buildUnbundled(
  context: Record<string, unknown>,
  options: { env?: Environment; nag?: boolean } = {},
): CreditsApp & { app: App } {
  const app = new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'credits-cdk-')),
    context: { ...context, 'aws:cdk:bundling-stacks': [] },
  });
  return {
    ...buildApp(app, { nag: options.nag ?? false, ...(options.env ? { env: options.env } : {}) }),
    app,
  };
}

/** Deletes a synthesized assembly (about 10 MB of bundles); call it from afterAll. */
export function removeAssembly(synthesized: SynthesizedApp): void {
  rmSync(synthesized.assemblyDirectory, { recursive: true, force: true });
}

export type Resource = {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
};

export type Statement = {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
  Principal?: unknown;
};

export function resources(template: Template): Record<string, Resource> {
  return (template.toJSON() as { Resources: Record<string, Resource> }).Resources;
}

export function logicalId(stack: Stack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

export function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Every statement that applies to a role: its inline policies and the policies attached to it. */
export function roleStatements(template: Template, roleLogicalId: string): Statement[] {
  const all = resources(template);
  const role = all[roleLogicalId];
  if (!role) throw new Error(`no resource ${roleLogicalId}`);
  type PolicyDoc = { PolicyDocument: { Statement: Statement[] } };
  const inline = ((role.Properties?.Policies ?? []) as PolicyDoc[]).flatMap(
    (p) => p.PolicyDocument.Statement,
  );
  const attached = Object.values(all)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) =>
      ((r.Properties?.Roles ?? []) as { Ref?: string }[]).some((ref) => ref.Ref === roleLogicalId),
    )
    .flatMap((r) => (r.Properties as PolicyDoc).PolicyDocument.Statement);
  return [...inline, ...attached];
}

/** Logical ids of the template's resources that a value refers to (Ref, Fn::GetAtt, Fn::Sub). */
export function referencedResources(value: unknown, resourceIds: Set<string>): Set<string> {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [key, inner] of Object.entries(node)) {
      if (key === 'Ref' && typeof inner === 'string') found.add(inner);
      else if (key === 'Fn::GetAtt')
        found.add(String(Array.isArray(inner) ? inner[0] : inner).split('.')[0] ?? '');
      else if (key === 'Fn::Sub') {
        const text = Array.isArray(inner) ? inner[0] : inner;
        for (const match of String(text).matchAll(/\$\{([^}.!]+)/g)) found.add(match[1] ?? '');
      }
      visit(inner);
    }
  };
  visit(value);
  return new Set([...found].filter((id) => resourceIds.has(id)));
}
