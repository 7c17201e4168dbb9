// The local gateway enforces each function's configured timeout as Lambda and HTTP API do: an overrunning
// handler is cut at its timeout, the caller gets HTTP API's 500, and the handler's late answer is discarded.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { functions } from '#infra/definitions/functions.ts';
import { DEFAULT_TIMEOUT_SECONDS } from '#infra/definitions/timeouts.ts';
import { invokeWithTimeout } from '../../local/api-gateway.ts';
import { type LocalStack, startLocalStack } from '../../local/server.ts';
import { slowHandlerRuns } from '../support/slow-handler.ts';

const TIMEOUT_SECONDS = 0.3;

// GET /v1/credits is served by a handler that waits as long as it is told, with a 0.3 s timeout.
vi.mock('#infra/definitions/functions.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('#infra/definitions/functions.ts')>();
  const credits = { ...real.functions.credits, entry: 'test/support/slow-handler.ts', timeoutSeconds: 0.3 };
  return { ...real, functions: { ...real.functions, credits } };
});

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
    tableName: `local-timeout-${randomUUID().slice(0, 8)}`,
    seedDemo: false,
    runJobs: false,
    quiet: true,
    stripe: false,
    marketplace: false,
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('local gateway timeouts', () => {
  it('answers a handler that finishes within its timeout, which it saw as the remaining time', async () => {
    const response = await fetch(`${stack.url}/v1/credits?delay_ms=0`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ waited_ms: 0 });
    const run = slowHandlerRuns().at(-1)!;
    expect(run.remainingAtStartMs).toBeGreaterThan(0);
    expect(run.remainingAtStartMs).toBeLessThanOrEqual(TIMEOUT_SECONDS * 1000);
  });

  it('cuts a handler at its configured timeout with HTTP API’s 500 and a log line, discarding its late answer', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const response = await fetch(`${stack.url}/v1/credits?delay_ms=800`);
      const run = slowHandlerRuns().at(-1)!;
      // Answered while the handler was still waiting: the gateway did not wait for it.
      expect(run.done).toBe(false);
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ message: 'Internal Server Error' });
      expect(response.headers.get('apigw-requestid')).toMatch(/^[0-9a-f-]{36}$/);
      expect(logged).toHaveBeenCalledWith(
        'GET /v1/credits: credits timed out after 0.3 seconds; answered 500 as HTTP API does',
      );
      await run.finished;
      // The late answer went nowhere: the next call is served normally.
      const next = await fetch(`${stack.url}/v1/credits?delay_ms=0`);
      expect(next.status).toBe(200);
    } finally {
      logged.mockRestore();
    }
  });

  it('gives a function without a timeout of its own the cloud default, not 30 s', async () => {
    expect(functions.usage).not.toHaveProperty('timeoutSeconds');
    const remaining = await invokeWithTimeout(
      'usage',
      functions.usage,
      async (_event, context) => context.getRemainingTimeInMillis(),
      {},
    );
    expect(remaining).toBeLessThanOrEqual(DEFAULT_TIMEOUT_SECONDS * 1000);
    expect(remaining).toBeGreaterThan((DEFAULT_TIMEOUT_SECONDS - 1) * 1000);
  });
});
