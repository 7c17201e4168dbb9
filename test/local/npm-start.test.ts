// `npm start` as a process: its data directory outlives a SIGKILL in the middle of charges, one running
// stack holds the directory, and nothing it started outlives it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/dynamo-local.ts';
import { type HttpAnswer, stackClient } from '../support/http.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN_KEY = 'npm-start-test-admin-key';

type Run = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

/** `node local/start.ts` with its own data directory and port, as `npm start` runs it. */
function startStack(dataDirectory: string, port: number): Run {
  const child = spawn(process.execPath, ['local/start.ts'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      LOCAL_DATA_DIR: dataDirectory,
      PORT: String(port),
      ADMIN_API_KEY: ADMIN_KEY,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      // 200 charges as fast as the stack answers: more than the default bursts of 100 per token.
      RATE_LIMIT_RPS: '100000',
      RATE_LIMIT_BURST: '100000',
      RATE_LIMIT_ACCOUNT_RPS: '100000',
      RATE_LIMIT_ACCOUNT_BURST: '100000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitForHealth(run: Run, url: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  let exitCode: number | null | undefined;
  void run.exited.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`the stack exited (${exitCode}):\n${run.output()}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the stack did not answer /health:\n${run.output()}`);
}

/** The processes whose command line names the data directory: the watchdog shell and its Java. */
function processesUsing(dataDirectory: string): string[] {
  return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(`-dbPath ${join(dataDirectory, 'dynamodb')}`));
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The files a second stack could have changed: all but DynamoDB's own, which the running stack writes. */
function snapshotOf(directory: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(directory)
      .filter((name) => name !== 'dynamodb')
      .map((name) => [name, readFileSync(join(directory, name), 'utf8')]),
  );
}

const micros = (usd: number) => Math.round(usd * 1_000_000);

const dataDirectory = mkdtempSync(join(tmpdir(), 'npm-start-'));
const runs: Run[] = [];

afterAll(async () => {
  for (const run of runs) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGKILL');
      await run.exited;
    }
  }
  rmSync(dataDirectory, { recursive: true, force: true });
});

describe('npm start', () => {
  it('keeps every answered charge across a SIGKILL, holds its data directory, and leaves no process behind', async () => {
    // Prepare: a stack on a fresh data directory, with credits to spend.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const http = stackClient(() => url, ADMIN_KEY);
    const first = startStack(dataDirectory, port);
    runs.push(first);
    await waitForHealth(first, url);
    expect(first.output()).toMatch(/Starting DynamoDB Local \(data in .*\)…/);
    expect(first.output()).toMatch(/DynamoDB Local ready in \d+\.\d s/);
    expect(first.output()).toContain(`Data:                     ${dataDirectory}`);
    const { demo } = JSON.parse(readFileSync(join(dataDirectory, 'stack.json'), 'utf8')) as {
      demo: { accountId: string; token: string };
    };
    const granted = await http('POST', `/admin/accounts/${demo.accountId}/credits`, {
      admin: true,
      body: { amount: 5, reason: 'Durability test' },
    });
    expect(granted.status).toBe(201);

    // A second stack on the same directory refuses in one line and touches nothing.
    const before = snapshotOf(dataDirectory);
    const second = startStack(dataDirectory, await freePort());
    runs.push(second);
    expect(await second.exited).toBe(1);
    expect(second.output().trim()).toBe(
      `${dataDirectory} is in use by another npm start (pid ${first.child.pid}); stop it or set LOCAL_DATA_DIR to another folder`,
    );
    expect(snapshotOf(dataDirectory)).toEqual(before);

    // Act: 200 charges, 8 at a time, and SIGKILL once about half have answered.
    const answered: HttpAnswer[] = [];
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (!killed && next < 200) {
        next++;
        try {
          const answer = await http('POST', '/v1/demo/echo', { token: demo.token, body: { text: 'x' } });
          answered.push(answer);
          if (answered.length >= 100 && !killed) {
            killed = true;
            first.child.kill('SIGKILL');
          }
        } catch {
          // Cut off by the kill: it never answered.
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await first.exited;
    const charged = answered.filter((answer) => answer.status === 200);
    expect(charged.length).toBeGreaterThanOrEqual(100);
    expect(answered.every((answer) => answer.status === 200)).toBe(true);

    // Assess: nothing of the first run is left, within a few seconds.
    expect(await until(() => processesUsing(dataDirectory).length === 0, 5_000)).toBe(true);
    expect(isRunning(first.child.pid ?? 0)).toBe(false);

    // Restarted on the same directory (its stale lock taken over), every answered charge is in the ledger.
    const third = startStack(dataDirectory, port);
    runs.push(third);
    await waitForHealth(third, url);
    expect(third.output()).toContain(`Demo account ${demo.accountId} kept from an earlier start`);
    const entries: { amount: number; request_id?: string }[] = [];
    let cursor: string | null = null;
    do {
      const page: HttpAnswer = await http(
        'GET',
        `/v1/transactions?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { token: demo.token },
      );
      expect(page.status).toBe(200);
      entries.push(...page.body.data);
      cursor = page.body.next_cursor;
    } while (cursor);
    const ledgerIds = new Set(entries.map((entry) => entry.request_id));
    const missing = charged
      .map((answer) => answer.headers.get('x-request-id'))
      .filter((id) => !ledgerIds.has(id ?? ''));
    expect(missing).toEqual([]);
    const credits = await http('GET', '/v1/credits', { token: demo.token });
    expect(credits.status).toBe(200);
    const ledgerSum = entries.reduce((sum, entry) => sum + micros(entry.amount), 0);
    expect(ledgerSum).toBe(micros(credits.body.balance));
    // Granted 10 + 5, and 2,000 µ$ per charge: at least the answered ones, at most all that were sent.
    expect(micros(credits.body.balance)).toBeLessThanOrEqual(micros(15) - charged.length * 2_000);
    expect(micros(credits.body.balance)).toBeGreaterThanOrEqual(micros(15) - next * 2_000);

    // Stopping it (SIGTERM) stops its Java and gives the directory back.
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    expect(processesUsing(dataDirectory)).toEqual([]);
    expect(readdirSync(dataDirectory)).not.toContain('lock');
  }, 240_000);
});
