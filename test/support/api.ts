// In-process calls to the real handlers with API Gateway v2 events, routed by the route table, for tests
// that need fault injection or speed; HTTP-level tests use the local stack instead.
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { functions } from '#infra/definitions/functions.ts';
import type { Route } from '#infra/definitions/routes.ts';
import { nowMs } from '#shared/clock.ts';
import type { ApiEvent, ApiResult } from '#shared/http/api.ts';
import { matchRoute } from '../../local/router.ts';
import { assertDescribed } from './contract.ts';
import { rollUpRecordedUsage } from './stream.ts';

type Handler = (event: ApiEvent, context: Context) => Promise<ApiResult>;
const loaded = new Map<string, Handler>();

async function handlerFor(route: Route): Promise<Handler> {
  const entry = functions[route.function].entry;
  let handler = loaded.get(entry);
  if (!handler) {
    const module = (await import(/* @vite-ignore */ new URL(`../../${entry}`, import.meta.url).href)) as {
      handler: Handler;
    };
    handler = module.handler;
    loaded.set(entry, handler);
  }
  return handler;
}

export type CallOptions = {
  token?: string;
  body?: unknown;
  rawBody?: string;
  /** The raw body is base64, as API Gateway sends binary bodies. */
  base64?: boolean;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** Cookies as payload 2.0 lists them (`name=value`): a dashboard session. */
  cookies?: string[];
  /** The client's address (default 127.0.0.1). */
  sourceIp?: string;
  /** Reuse a gateway request id and arrival time, as a redelivered event would. */
  gatewayRequestId?: string;
  timeEpoch?: number;
};

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies field by field and assert each one
export type CallResult = { status: number; headers: Record<string, string>; cookies: string[]; body: any };

export function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: 'test',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export function apiEvent(method: string, path: string, options: CallOptions = {}): ApiEvent {
  const matched = matchRoute(method, path);
  if (!matched) throw new Error(`no route covers ${method} ${path}`);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...lower(options.headers ?? {}),
  };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const query = options.query ?? {};
  const rawQueryString = new URLSearchParams(query).toString();
  const event = {
    version: '2.0',
    routeKey: matched.routeKey,
    rawPath: path,
    rawQueryString,
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(matched.pathParameters ? { pathParameters: matched.pathParameters } : {}),
    ...(options.cookies?.length ? { cookies: options.cookies } : {}),
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    isBase64Encoded: options.base64 ?? false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      domainName: 'test.local',
      domainPrefix: 'test',
      http: {
        method,
        path,
        protocol: 'HTTP/1.1',
        sourceIp: options.sourceIp ?? '127.0.0.1',
        userAgent: 'vitest',
      },
      requestId: options.gatewayRequestId ?? randomUUID(),
      routeKey: matched.routeKey,
      stage: '$default',
      time: new Date(nowMs()).toISOString(),
      timeEpoch: options.timeEpoch ?? nowMs(),
      ...(matched.route.auth === 'iam'
        ? { authorizer: { iam: { userArn: 'arn:aws:iam::000000000000:user/test-admin' } } }
        : {}),
    },
  };
  return event as unknown as ApiEvent;
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Calls the handler the route table names for `method path`, as API Gateway would. */
export async function call(method: string, path: string, options: CallOptions = {}): Promise<CallResult> {
  // Usage is rolled up from the ledger by a stream consumer: a test reads it once that has caught up.
  if (method === 'GET' && path === '/v1/usage') await rollUpRecordedUsage();
  const event = apiEvent(method, path, options);
  const handler = await handlerFor(matchRoute(method, path)!.route);
  const result = await handler(event, lambdaContext());
  const answer = {
    status: result.statusCode,
    headers: result.headers,
    cookies: result.cookies ?? [],
    body: !result.body
      ? undefined
      : result.headers['content-type']?.startsWith('application/json')
        ? JSON.parse(result.body)
        : result.body,
  };
  assertDescribed({
    method,
    path,
    status: answer.status,
    header: (name) => result.headers[name],
    body: answer.body,
  });
  return answer;
}
