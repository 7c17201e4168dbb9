// Metrics are published at the end of every invocation, also when the handler throws: a metric left in the
// buffer would be lost, or counted in the next invocation of a warm instance.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDocumentClient, setDocumentClient } from '#shared/dynamo/client.ts';
import { metrics } from '#shared/observability/powertools.ts';
import { fundedAccount } from '../support/accounts.ts';
import { apiEvent, lambdaContext } from '../support/api.ts';

// Metrics are on in this file (the setup turns them off), so their EMF lines can be read from stdout.
vi.hoisted(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
});

type Emf = { _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } } & Record<string, unknown>;

let emitted: Emf[];

beforeEach(() => {
  emitted = [];
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk, ...rest) => {
    const text = String(chunk);
    if (text.includes('"_aws"')) emitted.push(JSON.parse(text) as Emf);
    else return write(chunk, ...(rest as []));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  setDocumentClient(undefined);
});

/** A DynamoDB client that refuses the commands `refuses` picks, before they reach DynamoDB Local. */
function refusing(refuses: (command: string, input: Record<string, unknown>) => boolean) {
  const client = createDocumentClient(process.env.DYNAMODB_ENDPOINT);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (refuses(String(context.commandName), args.input as Record<string, unknown>)) {
        throw Object.assign(new Error('injected DynamoDB failure'), { name: 'InternalServerError' });
      }
      return next(args);
    },
    { step: 'initialize', name: 'refuse' },
  );
  setDocumentClient(client);
}

const names = (emf: Emf) => emf._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => m.Name));

describe('metrics flushed in finally', () => {
  it('a paid call whose Idempotency-Key can be neither completed nor released still publishes ChargedMicros', async () => {
    const { token } = await fundedAccount(1, 'Flush');
    const { handler } = await import('../../functions/demo/echo.ts');
    // The charge commits; then completing the idempotency key fails, and so does releasing it in the error
    // path. The request answers the contract's 500 (the key's lease runs out; a retry finds the charge), and
    // the metrics recorded before are published all the same.
    refusing(
      (command, input) =>
        command === 'UpdateItemCommand' && String(input.UpdateExpression).includes('REMOVE lease_owner'),
    );

    const event = apiEvent('POST', '/v1/demo/echo', {
      token,
      body: { text: 'x' },
      headers: { 'Idempotency-Key': `flush-${Date.now()}` },
    });
    const answer = await handler(event, lambdaContext());

    expect(answer.statusCode).toBe(500);
    expect(JSON.parse(String(answer.body))).toEqual({ error: 'Internal error', code: 'internal_error' });
    expect(emitted.flatMap(names)).toContain('ChargedMicros');
    expect(emitted.find((emf) => names(emf).includes('ChargedMicros'))?.ChargedMicros).toBe(2000);
    expect(metrics.hasStoredMetrics()).toBe(false);
  });

  it.each([
    ['expire-holds', () => import('../../functions/jobs/expire-holds.ts')],
    ['auto-refill', () => import('../../functions/jobs/auto-refill.ts')],
    ['postpaid-invoices', () => import('../../functions/jobs/postpaid-invoices.ts')],
    ['reconcile', () => import('../../functions/jobs/reconcile.ts')],
  ])('the %s job publishes what it recorded before DynamoDB failed', async (_job, load) => {
    const { handler } = await load();
    refusing(() => true);
    metrics.addMetric('RecordedBeforeFailure', MetricUnit.Count, 1);

    await expect(handler()).rejects.toThrow('injected DynamoDB failure');

    expect(emitted.flatMap(names)).toEqual(['RecordedBeforeFailure']);
    expect(metrics.hasStoredMetrics()).toBe(false);
  });
});
