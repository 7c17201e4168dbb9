// Grants that follow from what a function's code does, not only from what its spec says: a handler that takes
// an Idempotency-Key claims, completes, releases and (after a refused request) forgets its record, so its role
// needs all four actions. Locally nothing enforces IAM, so only this test catches a missing one.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type FunctionSpec, functions, idempotency } from '#infra/definitions/functions.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const specs = Object.entries(functions) as [string, FunctionSpec][];

/** Handlers built with an `idempotent` option, and paid features (the metering chain takes Idempotency-Key). */
function takesIdempotencyKey(spec: FunctionSpec): boolean {
  const source = readFileSync(path.join(repoRoot, spec.entry), 'utf8');
  return /\bidempotent:/.test(source) || /\bpaidFeature\(/.test(source);
}

describe('idempotency grants', () => {
  const idempotent = specs.filter(([, spec]) => takesIdempotencyKey(spec));

  it('finds the functions that take an Idempotency-Key', () => {
    expect(idempotent.map(([name]) => name)).toEqual(
      expect.arrayContaining(['demoEcho', 'tokens', 'adminAccounts', 'billingPurchases']),
    );
  });

  it.each(idempotent)('%s may get, put, update and delete its idempotency records', (_name, spec) => {
    expect(spec.table).toEqual(expect.arrayContaining(idempotency));
  });
});
