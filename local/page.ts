// Local stack: the page at `GET /`. A placeholder until the billing dashboard replaces this one module.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { HttpAnswer } from './api-gateway.ts';

const README = fileURLToPath(new URL('../README.md', import.meta.url));

const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Credits billing (local)</title></head>
<body>
<h1>Credits billing API, local mode</h1>
<p>The API is served here; <a href="/health">/health</a> reports when it is ready.</p>
<p>The <a href="/README.md">README</a> lists the endpoints and example calls.</p>
</body>
</html>
`;

/** Answers the GET requests this page owns, `undefined` for any other path. */
export async function servePage(request: IncomingMessage, path: string): Promise<HttpAnswer | undefined> {
  if (request.method !== 'GET') return undefined;
  if (path === '/')
    return {
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8' },
      cookies: [],
      body: Buffer.from(html),
    };
  if (path === '/README.md') {
    const text = await readFile(README).catch(() => Buffer.from('The README has not been written yet.\n'));
    return {
      status: 200,
      headers: { 'content-type': 'text/markdown; charset=utf-8' },
      cookies: [],
      body: text,
    };
  }
  return undefined;
}
