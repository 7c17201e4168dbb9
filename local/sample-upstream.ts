// The contract's sample upstream (API.md "Metered proxy routes"): an existing API as an operator would have
// it, behind the two sample proxy routes of `npm start`. It checks the gateway's signature like a real
// upstream should (examples/verify-signature.ts), and reports per-unit usage in `x-usage-quantity`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyCreditsRequest } from '../examples/verify-signature.ts';

export type SampleAnswer = { status: number; headers?: Record<string, string>; body: unknown };

const MAX_DELAY_MS = 60_000;

function refusal(status: number, error: string): SampleAnswer {
  return { status, body: { error, code: status === 400 ? 'invalid_request' : 'upstream_refusal' } };
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

/** `POST /translate` and `POST /complete` with their `fail` and `delay_ms` switches. */
export async function sampleAnswer(method: string, path: string, body: unknown): Promise<SampleAnswer> {
  if (method !== 'POST' || (path !== '/translate' && path !== '/complete')) return refusal(404, 'Not found');
  if (body === null || typeof body !== 'object') return refusal(400, 'The body must be a JSON object');
  const fields = body as Record<string, unknown>;
  const delay = fields.delay_ms;
  if (delay !== undefined) {
    if (!Number.isInteger(delay) || (delay as number) < 0 || (delay as number) > MAX_DELAY_MS)
      return refusal(400, `delay_ms must be 0..${MAX_DELAY_MS}`);
    await new Promise((resolve) => setTimeout(resolve, delay as number));
  }
  const fail = fields.fail;
  if (fail !== undefined) {
    if (!Number.isInteger(fail) || (fail as number) < 400 || (fail as number) > 599)
      return refusal(400, 'fail must be 400..599');
    return refusal(fail as number, `Failing with ${fail} as asked`);
  }
  if (path === '/translate') {
    const { text, to } = fields;
    if (typeof text !== 'string' || typeof to !== 'string')
      return refusal(400, 'text and to must be strings');
    return { status: 200, body: { translation: `[${to}] ${text}`, to } };
  }
  const { prompt, max_tokens: maxTokens } = fields;
  if (
    typeof prompt !== 'string' ||
    !Number.isInteger(maxTokens) ||
    (maxTokens as number) < 1 ||
    (maxTokens as number) > 4096
  )
    return refusal(400, 'prompt must be a string and max_tokens 1..4096');
  return {
    status: 200,
    headers: { 'x-usage-quantity': String(words(prompt) + (maxTokens as number)) },
    body: { completion: `${prompt} ${'lorem '.repeat(Math.min(maxTokens as number, 16)).trim()}` },
  };
}

export function readAll(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

export function sendAnswer(response: ServerResponse, answer: SampleAnswer): void {
  response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
  response.end(JSON.stringify(answer.body));
}

/** Parses the body as JSON (undefined when it is not) and answers as the sample does. */
export async function answerSigned(
  request: IncomingMessage,
  raw: Buffer,
  secret: string,
): Promise<SampleAnswer> {
  const checked = verifyCreditsRequest(request.headers, secret);
  if (!checked.ok) return refusal(401, `Not from the billing gateway: ${checked.reason}`);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    body = undefined;
  }
  const url = new URL(request.url ?? '/', 'http://upstream');
  return sampleAnswer(request.method ?? 'GET', url.pathname, body);
}

export type SampleUpstream = { url: string; server: Server; stop(): Promise<void> };

/** Listens on a free port of `host` (default 127.0.0.1). */
export async function startSampleUpstream(secret: string, host = '127.0.0.1'): Promise<SampleUpstream> {
  const server = createServer((request, response) => {
    readAll(request)
      .then((raw) => answerSigned(request, raw, secret))
      .then((answer) => sendAnswer(response, answer))
      .catch(() => sendAnswer(response, refusal(500, 'Sample upstream failed')));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
