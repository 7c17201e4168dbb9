// The dashboard's URL as checkout sees it: read from the named SSM parameter, cached, and replaced by nothing
// (PUBLIC_BASE_URL alone) when it cannot be had, logged once per outage. Through an injected reader, and once
// through the real SDK client against a stand-in SSM endpoint on localhost (AWS_ENDPOINT_URL_SSM).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { freezeClock, resetClock } from '#shared/clock.ts';
import { logger } from '#shared/observability/powertools.ts';
import {
  DASHBOARD_URL_CACHE_MS,
  DASHBOARD_URL_RETRY_MS,
  dashboardUrl,
  useDashboardUrlReader,
} from '#shared/payments/dashboard-url.ts';

const PARAMETER = '/credits-billing/dashboard-url';
const start = new Date('2030-01-01T00:00:00Z');
const at = (ms: number) => freezeClock(new Date(start.getTime() + ms));

let warn: MockInstance<typeof logger.warn>;

beforeEach(() => {
  process.env.DASHBOARD_URL_PARAMETER = PARAMETER;
  warn = vi.spyOn(logger, 'warn');
  at(0);
});

afterEach(() => {
  delete process.env.DASHBOARD_URL_PARAMETER;
  useDashboardUrlReader(undefined);
  resetClock();
  vi.restoreAllMocks();
});

/** A reader answering the values given in turn (an Error is thrown), recording what it was asked. */
function scripted(...answers: (string | undefined | Error)[]) {
  const asked: string[] = [];
  useDashboardUrlReader(async (name) => {
    asked.push(name);
    const answer = answers.length > 1 ? answers.shift() : answers[0];
    if (answer instanceof Error) throw answer;
    return answer;
  });
  return asked;
}

describe('dashboardUrl', () => {
  it('reads nothing when no parameter is configured (the local stack: one origin)', async () => {
    delete process.env.DASHBOARD_URL_PARAMETER;
    const asked = scripted('https://d111.cloudfront.net');
    expect(await dashboardUrl()).toBeUndefined();
    expect(asked).toEqual([]);
    expect(warn).not.toHaveBeenCalled();
  });

  it('reads the named parameter once per 5 minutes and answers its origin', async () => {
    const asked = scripted('https://d111.cloudfront.net/', 'https://d222.cloudfront.net');
    expect(await dashboardUrl()).toBe('https://d111.cloudfront.net');
    at(DASHBOARD_URL_CACHE_MS - 1);
    expect(await dashboardUrl()).toBe('https://d111.cloudfront.net');
    expect(asked).toEqual([PARAMETER]);

    at(DASHBOARD_URL_CACHE_MS);
    expect(await dashboardUrl()).toBe('https://d222.cloudfront.net');
    expect(asked).toEqual([PARAMETER, PARAMETER]);
    expect(warn).not.toHaveBeenCalled();
  });

  it('falls back when the parameter is missing, logs it once, and retries after a minute', async () => {
    const asked = scripted(undefined, undefined, 'https://d111.cloudfront.net');
    expect(await dashboardUrl()).toBeUndefined();
    at(DASHBOARD_URL_RETRY_MS - 1);
    expect(await dashboardUrl()).toBeUndefined();
    expect(asked).toHaveLength(1);

    at(DASHBOARD_URL_RETRY_MS);
    expect(await dashboardUrl()).toBeUndefined();
    expect(asked).toHaveLength(2);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/does not exist.*PUBLIC_BASE_URL only/);

    // The dashboard stack deployed: found at the next retry.
    at(2 * DASHBOARD_URL_RETRY_MS);
    expect(await dashboardUrl()).toBe('https://d111.cloudfront.net');
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('falls back without throwing when SSM fails, logged once per outage', async () => {
    const failure = new Error('connect ETIMEDOUT');
    scripted(failure, failure, 'https://d111.cloudfront.net', failure);
    expect(await dashboardUrl()).toBeUndefined();
    at(DASHBOARD_URL_RETRY_MS);
    expect(await dashboardUrl()).toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[1]).toEqual({ error: failure });

    at(2 * DASHBOARD_URL_RETRY_MS);
    expect(await dashboardUrl()).toBe('https://d111.cloudfront.net');
    // A new outage after a good read is logged again.
    at(2 * DASHBOARD_URL_RETRY_MS + DASHBOARD_URL_CACHE_MS);
    expect(await dashboardUrl()).toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it.each(['d111.cloudfront.net', 'ftp://d111.cloudfront.net', ''])(
    'refuses a value that is not an http(s) URL: %j',
    async (value) => {
      scripted(value);
      expect(await dashboardUrl()).toBeUndefined();
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/is not an http\(s\) URL/);
    },
  );
});

describe('dashboardUrl through the SDK client', () => {
  /** What the stand-in SSM answers GetParameter with: [status, error type or parameter value]. */
  let answer: [number, string] = [200, 'https://d111.cloudfront.net'];
  const requests: { target: string; body: { Name?: string } }[] = [];
  const ssm: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({
        target: String(request.headers['x-amz-target']),
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Name?: string },
      });
      const [status, text] = answer;
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(
        JSON.stringify(status === 200 ? { Parameter: { Name: PARAMETER, Value: text } } : { __type: text }),
      );
    });
  });
  const saved = { ...process.env };

  beforeEach(async () => {
    if (!ssm.listening) await new Promise<void>((resolve) => ssm.listen(0, '127.0.0.1', resolve));
    const { port } = ssm.address() as AddressInfo;
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${port}`,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
    });
    requests.length = 0;
  });

  afterAll(async () => {
    process.env = saved;
    await new Promise<void>((resolve) => ssm.close(() => resolve()));
  });

  it("asks SSM's GetParameter for the named parameter and answers its value's origin", async () => {
    answer = [200, 'https://d111.cloudfront.net'];
    expect(await dashboardUrl()).toBe('https://d111.cloudfront.net');
    expect(requests).toEqual([{ target: 'AmazonSSM.GetParameter', body: { Name: PARAMETER } }]);
  });

  it('takes ParameterNotFound for "no dashboard" (one call, no retry) and falls back', async () => {
    answer = [400, 'ParameterNotFound'];
    expect(await dashboardUrl()).toBeUndefined();
    expect(requests).toHaveLength(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/does not exist/);
  });

  it('falls back when SSM refuses (AccessDenied), logging the error', async () => {
    answer = [400, 'AccessDeniedException'];
    expect(await dashboardUrl()).toBeUndefined();
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/could not be read/);
  });
});
