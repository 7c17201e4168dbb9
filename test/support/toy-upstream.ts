// A toy upstream in its own process (`node test/support/toy-upstream.ts`, secret in TOY_SECRET): the sample
// upstream's routes, plus what tests need to see and provoke. It prints `{"url"}` once it listens.
// - GET /__seen?account=<id>: every request it received for that account (method, url, headers, body base64);
// - a JSON body with "usage": answers 200 with exactly that x-usage-quantity;
// - "close": true: destroys the connection without answering;
// - "has_cost": true: answers 200 with its own top-level "cost";
// - a body that is not JSON: echoed back byte for byte as application/octet-stream.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerSigned, readAll, sendAnswer } from '../../local/sample-upstream.ts';

const secret = process.env.TOY_SECRET ?? '';
type Seen = { method: string; url: string; headers: Record<string, unknown>; body: string };
const seen: Seen[] = [];

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? '/', 'http://toy');
  if (request.method === 'GET' && url.pathname === '/__seen') {
    const account = url.searchParams.get('account');
    sendAnswer(response, {
      status: 200,
      body: seen.filter((entry) => entry.headers['x-credits-account-id'] === account),
    });
    return;
  }
  const raw = await readAll(request);
  seen.push({
    method: request.method ?? '',
    url: request.url ?? '',
    headers: request.headers,
    body: raw.toString('base64'),
  });
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch {
    response.writeHead(200, { 'content-type': 'application/octet-stream' });
    response.end(raw);
    return;
  }
  if (body.close === true) {
    request.socket.destroy();
    return;
  }
  if (typeof body.usage === 'string') {
    sendAnswer(response, {
      status: 200,
      headers: { 'x-usage-quantity': body.usage },
      body: { completion: '' },
    });
    return;
  }
  if (body.has_cost === true) {
    sendAnswer(response, { status: 200, body: { cost: 'the upstream’s own' } });
    return;
  }
  sendAnswer(response, await answerSigned(request, raw, secret));
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
// The test that started it ends: so does the toy.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
