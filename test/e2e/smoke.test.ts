// `npm run smoke` against the local stack, run as a user runs it: `node scripts/smoke.ts --url … --token …`
// in a child process, judged by its exit status and the lines it prints.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stackClient } from '../support/http.ts';
import { useLocalStack } from '../support/stack.ts';

const ADMIN_KEY = 'e2e-smoke-admin-key';
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const STEPS = ['prices', 'credits', 'paid call', 'replay', 'charged once', 'usage', 'transactions'];

const stackOf = useLocalStack('e2e-smoke', { adminApiKey: ADMIN_KEY });

const api = stackClient(() => stackOf().url, ADMIN_KEY);

async function account(credits: number): Promise<{ accountId: string; token: string }> {
  const created = await api('POST', '/admin/accounts', { admin: true, body: { name: 'Smoke' } });
  expect(created.status).toBe(201);
  const { account_id: accountId, token } = created.body as { account_id: string; token: string };
  if (credits > 0) {
    const grant = await api('POST', `/admin/accounts/${accountId}/credits`, {
      admin: true,
      body: { amount: credits, reason: 'smoke test' },
    });
    expect(grant.status).toBe(201);
  }
  return { accountId, token };
}

type Run = { code: number | null; stdout: string; stderr: string };

/** Asynchronously: the stack answering the script runs in this process. */
function smoke(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { SMOKE_TOKEN: _ignored, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn('node_modules/.bin/node', ['scripts/smoke.ts', ...args], {
      cwd: repoRoot,
      env: { ...inherited, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lines = (run: Run) => run.stdout.trim().split('\n');

describe('npm run smoke', () => {
  it('passes against a prepaid account with credits, charging it once', async () => {
    const { token } = await account(1);

    const run = await smoke(['--url', stackOf().url, '--token', token]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const printed = lines(run);
    expect(printed[0]).toBe(`Smoke test of ${stackOf().url}`);
    expect(printed.slice(1, -1)).toHaveLength(STEPS.length);
    STEPS.forEach((name, index) => {
      expect(printed[index + 1]).toMatch(new RegExp(`^✓ ${index + 1}/7 ${name}: .+ \\(\\d+ ms\\)$`));
    });
    expect(printed.at(-1)).toMatch(/^Smoke test passed: 7 steps in \d+ ms\.$/);
    expect(run.stdout).toContain('echo is fixed at $0.002 a call');
    expect(run.stdout).toContain('balance $1 → $0.998, down by exactly the cost');
    expect(run.stdout).not.toContain(token);
    const credits = await api('GET', '/v1/credits', { token });
    expect(credits.body.balance).toBe(0.998);
    const transactions = await api('GET', '/v1/transactions', { token });
    expect(transactions.body.data.filter((entry: { type: string }) => entry.type !== 'grant')).toHaveLength(
      1,
    );
  });

  it('passes against a postpaid account: its usage goes up by the cost, its balance stays', async () => {
    const { accountId, token } = await account(0);
    const switched = await api('PUT', `/admin/accounts/${accountId}/billing`, {
      admin: true,
      body: { mode: 'postpaid' },
    });
    expect(switched.status).toBe(200);

    const run = await smoke(['--url', `${stackOf().url}/`, '--token', token]);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/usage \$0 → \$0\.002, up by exactly the cost/);
    expect(run.stdout).toContain('amount $0');
  });

  it('says plainly that an account with $0 has no credits, and charges nothing', async () => {
    const { token } = await account(0);

    const run = await smoke(['--url', stackOf().url], { SMOKE_TOKEN: token });

    expect(run.code).toBe(1);
    const printed = lines(run);
    expect(printed.slice(1, 3).every((line) => line.startsWith('✓'))).toBe(true);
    expect(printed[3]).toMatch(
      /^✗ 3\/7 paid call: POST \/v1\/demo\/echo: the account has no credits to pay for the call \(402 insufficient_credits\)/,
    );
    expect(printed.at(-1)).toBe('Smoke test FAILED at step 3 of 7.');
    expect(run.stdout).not.toContain(token);
    expect((await api('GET', '/v1/credits', { token })).body.balance).toBe(0);
  });

  it('says the token was refused, without printing it', async () => {
    const token = `crd_${randomUUID().replaceAll('-', '')}`;

    const run = await smoke(['--url', stackOf().url, '--token', token]);

    expect(run.code).toBe(1);
    expect(lines(run)[2]).toMatch(
      /^✗ 2\/7 credits: GET \/v1\/credits: the token was refused \(401 unauthorized/,
    );
    expect(`${run.stdout}${run.stderr}`).not.toContain(token);
  });

  it('catches a deployment that charges a replayed request twice', async () => {
    const { token } = await account(1);
    // A front door that loses the Idempotency-Key: every retry becomes a new, charged request.
    const proxy = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const headers = Object.fromEntries(
        Object.entries(request.headers).filter(
          (entry): entry is [string, string] =>
            typeof entry[1] === 'string' && entry[0] !== 'idempotency-key',
        ),
      );
      const upstream = await fetch(`${stackOf().url}${request.url}`, {
        method: request.method ?? 'GET',
        headers,
        ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
      });
      response.writeHead(upstream.status, Object.fromEntries(upstream.headers));
      response.end(Buffer.from(await upstream.arrayBuffer()));
    });
    const proxyUrl = await listen(proxy);
    try {
      const run = await smoke(['--url', proxyUrl, '--token', token]);

      expect(run.code).toBe(1);
      expect(lines(run)[5]).toMatch(
        /^✗ 5\/7 charged once: the balance went from \$1 to \$0\.996 \(down \$0\.004\), expected down by exactly the cost \$0\.002/,
      );
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('fails clearly when nothing answers at the URL', async () => {
    const closed = createServer();
    const url = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));

    const run = await smoke(['--url', url, '--token', 'crd_whatever']);

    expect(run.code).toBe(1);
    expect(lines(run)[1]).toMatch(/^✗ 1\/7 prices: GET \/v1\/prices: could not reach .+ \(ECONNREFUSED\)/);
  });

  it('prints its usage for --help, and with status 2 for missing or bad arguments', async () => {
    const help = await smoke(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm run smoke -- --url <base URL> --token <token>/);

    for (const [args, message] of [
      [[], '--url is required'],
      [['--url', 'http://localhost:3000'], '--token is required'],
      [['--url', 'not a url', '--token', 't'], '--url is not a URL'],
      [['--url', 'http://localhost:3000', 'crd_forgot_the_flag'], 'unexpected argument'],
      [['--url', 'http://localhost:3000', '--token', 't', '--verbose'], "Unknown option '--verbose'"],
    ] as const) {
      const run = await smoke([...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(message);
      expect(run.stderr).toContain('Usage: npm run smoke');
      expect(run.stderr).not.toContain('crd_forgot_the_flag');
    }
  });
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
