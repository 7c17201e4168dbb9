// What a handler receives from the local stack and how its answers are written back, seen through a stand-in
// for the catch-all function.
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/server.ts';

vi.mock('../../functions/not-found.ts', () => ({
  handler: async (event: APIGatewayProxyEventV2WithIAMAuthorizer) => {
    if (event.rawPath === '/boom') throw new Error('boom');
    if (event.rawPath === '/bad-status') return { statusCode: 1000 };
    if (event.rawPath === '/plain') return { hello: 'world' };
    if (event.rawPath === '/binary') {
      return { statusCode: 200, isBase64Encoded: true, body: Buffer.from([0, 1, 2, 255]).toString('base64') };
    }
    return {
      statusCode: 200,
      headers: { 'x-request-id': 'from-handler', 'X-Custom': 1 },
      cookies: ['a=1; Path=/', 'b=2'],
      body: JSON.stringify(event),
    };
  },
}));

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    adminApiKey: 'k',
    dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
    tableName: `local-gateway-${randomUUID().slice(0, 8)}`,
    seedDemo: false,
    runJobs: false,
    quiet: true,
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

async function eventFor(
  path: string,
  init: RequestInit = {},
): Promise<APIGatewayProxyEventV2WithIAMAuthorizer> {
  const response = await fetch(`${stack.url}${path}`, init);
  expect(response.status).toBe(200);
  return response.json() as Promise<APIGatewayProxyEventV2WithIAMAuthorizer>;
}

describe('API Gateway event', () => {
  it('carries the route, path, query, headers and cookies as payload 2.0 does', async () => {
    const event = await eventFor('/some/where%20else?a=1&b=x%20y&a=2', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Thing': 'v', cookie: 'c1=1; c2=2' },
      body: '{"text":"héllo"}',
    });
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'ANY /{proxy+}',
      rawPath: '/some/where else',
      rawQueryString: 'a=1&b=x%20y&a=2',
      queryStringParameters: { a: '1,2', b: 'x y' },
      pathParameters: { proxy: 'some/where else' },
      cookies: ['c1=1', 'c2=2'],
      body: '{"text":"héllo"}',
      isBase64Encoded: false,
      requestContext: {
        accountId: 'local',
        apiId: 'local',
        domainName: '127.0.0.1',
        routeKey: 'ANY /{proxy+}',
        stage: '$default',
        http: { method: 'POST', path: '/some/where else', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' },
      },
    });
    expect(event.headers['x-thing']).toBe('v');
    expect(event.headers.cookie).toBeUndefined();
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.requestContext.time).toMatch(/^\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(Math.abs(event.requestContext.timeEpoch - Date.now())).toBeLessThan(5_000);
    expect(event.requestContext.authorizer).toBeUndefined();
  });

  it('leaves out what the request does not have', async () => {
    const event = await eventFor('/bare');
    expect(event.queryStringParameters).toBeUndefined();
    expect(event.cookies).toBeUndefined();
    expect(event.body).toBeUndefined();
    expect(event.isBase64Encoded).toBe(false);
  });

  it('base64-encodes bodies that are not text', async () => {
    const bytes = Buffer.from([0, 159, 146, 150]);
    const event = await eventFor('/upload', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body!, 'base64')).toEqual(bytes);
  });
});

describe('handler answers', () => {
  it('writes status, headers and cookies as returned', async () => {
    const response = await fetch(`${stack.url}/anything`);
    expect(response.headers.get('x-request-id')).toBe('from-handler');
    expect(response.headers.get('x-custom')).toBe('1');
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2']);
  });

  it('decodes base64 bodies', async () => {
    const response = await fetch(`${stack.url}/binary`);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('treats a result without statusCode as a 200 JSON body', async () => {
    const response = await fetch(`${stack.url}/plain`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ hello: 'world' });
  });

  it('answers 500 with the contract body when a handler throws or answers nonsense', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      for (const path of ['/boom', '/bad-status']) {
        const response = await fetch(`${stack.url}${path}`);
        expect(response.status).toBe(500);
        expect(await response.json()).toEqual({ error: 'Internal error', code: 'internal_error' });
        expect(response.headers.get('x-request-id')).toMatch(/^req_/);
      }
      expect(errors).toHaveBeenCalledTimes(2);
    } finally {
      errors.mockRestore();
    }
  });
});
