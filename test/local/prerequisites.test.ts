// A machine without Java: `npm test` and `npm start` stop at once with the same one-line advice, not a stack
// trace after a minute of lint and type-check.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JavaMissingError } from '../../local/dynamo-local.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
// A PATH holding this Node and nothing else: no java, whatever the machine has.
const binDirectory = mkdtempSync(path.join(tmpdir(), 'credits-no-java-'));
symlinkSync(process.execPath, path.join(binDirectory, 'node'));
afterAll(() => rmSync(binDirectory, { recursive: true, force: true }));

function runWithoutJava(script: string) {
  return spawnSync('node', [script], {
    cwd: repoRoot,
    // LOCAL_DATA_DIR: npm start must not touch the project's own local data from a test.
    env: { ...process.env, PATH: binDirectory, PORT: '0', LOCAL_DATA_DIR: path.join(binDirectory, 'data') },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('without Java', () => {
  const advice = new JavaMissingError().message;

  it('npm test stops at its first step with one line naming the package to install', () => {
    const scripts = (
      JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    expect(scripts.test?.startsWith('node scripts/require-java.ts && ')).toBe(true);
    const run = runWithoutJava('scripts/require-java.ts');
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(advice);
    expect(advice).toMatch(/default-jre-headless/);
  });

  it('npm start says the same and exits', () => {
    const run = runWithoutJava('local/start.ts');
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(advice);
  });

  it('with Java present the check passes silently', () => {
    const run = spawnSync('node', ['scripts/require-java.ts'], { cwd: repoRoot, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });
});
