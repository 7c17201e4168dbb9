// Local stack, step 2 of a request: the API Gateway HTTP API (payload 2.0) event and Lambda context a handler
// receives, built from a node:http request, and the handler's answer turned back into an HTTP response.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type {
  APIGatewayEventRequestContextIAMAuthorizer,
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithIAMAuthorizer,
  Context,
} from 'aws-lambda';
import type { FunctionSpec } from '#infra/definitions/functions.ts';
import { timeoutSecondsOf } from '#infra/definitions/timeouts.ts';
import type { RouteMatch } from './router.ts';

/** API Gateway's payload limit. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** The principal IAM-authorised routes see locally, shaped like a SigV4-signed caller. */
export const LOCAL_ADMIN: APIGatewayEventRequestContextIAMAuthorizer = {
  iam: {
    accessKey: 'ASIALOCALADMIN000000',
    accountId: '000000000000',
    callerId: 'AIDALOCALADMIN000000',
    cognitoIdentity: null,
    principalOrgId: '',
    userArn: 'arn:aws:iam::000000000000:user/local-admin',
    userId: 'AIDALOCALADMIN000000',
  },
};

/** Decodes each path segment as HTTP APIs do, keeping a malformed escape as sent. */
export function decodePath(path: string): string {
  return path
    .split('/')
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    })
    .join('/');
}

/** Content types API Gateway passes as text; everything else reaches the handler base64-encoded. */
function isTextual(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/x-www-form-urlencoded' ||
    type === 'multipart/form-data' ||
    type === 'application/xml' ||
    type === 'application/javascript'
  );
}

/** CLF-style time, as in `requestContext.time`: `12/Mar/2020:19:03:58 +0000`. */
function requestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${month}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

export type EventInput = {
  request: IncomingMessage;
  /** API Gateway's own id (`requestContext.requestId`). */
  requestId: string;
  /** When the request arrived, on the local clock. */
  timeEpoch: number;
  match: RouteMatch;
  body: Buffer;
  iamAuthorised: boolean;
};

export function buildEvent({
  request,
  requestId,
  timeEpoch,
  match,
  body,
  iamAuthorised,
}: EventInput): APIGatewayProxyEventV2 {
  const url = request.url ?? '/';
  const queryAt = url.indexOf('?');
  const rawPath = decodePath(queryAt === -1 ? url : url.slice(0, queryAt));
  const rawQueryString = queryAt === -1 ? '' : url.slice(queryAt + 1);

  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, values] of Object.entries(request.headersDistinct)) {
    if (!values) continue;
    // Payload 2.0 moves cookies out of the headers into their own list.
    if (name === 'cookie') {
      cookies = values.flatMap((value) => value.split(/;\s*/)).filter(Boolean);
    } else {
      headers[name] = values.join(',');
    }
  }

  let queryStringParameters: Record<string, string> | undefined;
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters ??= {};
    queryStringParameters[name] =
      name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
  }

  const host = headers.host ?? 'localhost';
  const domainName = host.replace(/:\d+$/, '');
  const sourceIp = (request.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  const textual = isTextual(headers['content-type']);
  const requestContext = {
    accountId: 'local',
    apiId: 'local',
    domainName,
    domainPrefix: domainName.split('.')[0]!,
    http: {
      method: request.method ?? 'GET',
      path: rawPath,
      protocol: `HTTP/${request.httpVersion}`,
      sourceIp,
      userAgent: headers['user-agent'] ?? '',
    },
    requestId,
    routeKey: match.routeKey,
    stage: '$default',
    time: requestTime(timeEpoch),
    timeEpoch,
  };

  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: match.routeKey,
    rawPath,
    rawQueryString,
    headers,
    requestContext,
    isBase64Encoded: body.length > 0 && !textual,
  };
  if (cookies?.length) event.cookies = cookies;
  if (queryStringParameters) event.queryStringParameters = queryStringParameters;
  if (match.pathParameters) event.pathParameters = match.pathParameters;
  if (body.length > 0) event.body = body.toString(textual ? 'utf8' : 'base64');
  if (iamAuthorised) {
    const withIam: APIGatewayProxyEventV2WithIAMAuthorizer = {
      ...event,
      requestContext: { ...requestContext, authorizer: LOCAL_ADMIN },
    };
    return withIam;
  }
  return event;
}

/**
 * A Lambda context good enough for handlers and Powertools. `deadline` (epoch ms, real time, not the settable
 * clock) is the one `invokeWithTimeout` enforces.
 */
export function lambdaContext(functionName: string, spec: FunctionSpec, deadline: number): Context {
  const name = `credits-local-${functionName}`;
  const unsupported = () => {
    throw new Error('Callback-style context methods are not supported locally; return a value instead');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    memoryLimitInMB: String(spec.memoryMb ?? 1024),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: `local/${name}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

export type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** The invocation ran past its function's timeout (Lambda logs "Task timed out after … seconds"). */
export class FunctionTimeoutError extends Error {
  override readonly name = 'FunctionTimeoutError';
}

/**
 * Invokes a handler as Lambda does, within its function's configured timeout: past it the invocation fails
 * with FunctionTimeoutError and whatever the handler answers later is discarded. (Lambda also stops the
 * handler; in this process its work runs on in the background, its result unread.)
 */
export async function invokeWithTimeout(
  functionName: string,
  spec: FunctionSpec,
  handler: Handler,
  event: unknown,
): Promise<unknown> {
  const timeoutMs = timeoutSecondsOf(spec) * 1000;
  const running = Promise.resolve().then(() =>
    handler(event, lambdaContext(functionName, spec, Date.now() + timeoutMs)),
  );
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new FunctionTimeoutError(`${functionName} timed out after ${timeoutMs / 1000} seconds`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
    // A late failure is as discarded as a late answer.
    running.catch(() => {});
  }
}

export type HttpAnswer = { status: number; headers: Record<string, string>; cookies: string[]; body: Buffer };

/**
 * HTTP API's own answer when a Lambda integration fails, a timeout included (documented in "Troubleshooting
 * issues with HTTP API Lambda integrations"); it carries the gateway's request id, not the function's.
 */
export function functionErrorAnswer(gatewayRequestId: string): HttpAnswer {
  return {
    status: 500,
    headers: { 'content-type': 'application/json', 'apigw-requestid': gatewayRequestId },
    cookies: [],
    body: Buffer.from(JSON.stringify({ message: 'Internal Server Error' })),
  };
}

/**
 * API Gateway's reading of a handler result: a structured result when it has `statusCode`, otherwise the whole
 * value is a 200 JSON body. An impossible status code is an integration failure, which throws here.
 */
export function toHttpAnswer(result: unknown): HttpAnswer {
  if (result === null || typeof result !== 'object' || !('statusCode' in result)) {
    return {
      status: 200,
      headers: { 'content-type': 'application/json' },
      cookies: [],
      body: Buffer.from(JSON.stringify(result ?? null)),
    };
  }
  const structured = result as {
    statusCode: unknown;
    headers?: Record<string, unknown>;
    body?: unknown;
    isBase64Encoded?: boolean;
    cookies?: string[];
  };
  const status = structured.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new Error(`handler returned an invalid statusCode: ${String(status)}`);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(structured.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  const text = typeof structured.body === 'string' ? structured.body : '';
  return {
    status,
    headers,
    cookies: structured.cookies ?? [],
    body: Buffer.from(text, structured.isBase64Encoded ? 'base64' : 'utf8'),
  };
}
