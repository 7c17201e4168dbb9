// Local stack: the billing dashboard at `GET /` and its assets under `/assets/`, built from dashboard/src on
// the first request (esbuild, in memory) and served as CloudFront serves the deployed copy.
import type { IncomingMessage } from 'node:http';
import { gzipSync } from 'node:zlib';
import { buildDashboard, CONTENT_SECURITY_POLICY, type DashboardFile } from '../dashboard/build.ts';
import type { HttpAnswer } from './api-gateway.ts';

let built: Map<string, DashboardFile> | undefined;

/**
 * The local banner, added to the page only by the local stack: emails are caught here, not sent, and listed
 * on the local mailbox page (local/mailbox.ts). Static markup styled by app.css (the CSP allows no inline style).
 * A landmark of its own (every part of the page sits in one), right after the skip link, which stays the
 * first thing a keyboard reaches.
 */
export const LOCAL_BANNER =
  '<aside class="local-banner" aria-label="Local stack"><p>Local stack: emails are caught, not sent. <a href="/__local/mailbox">Open the local mailbox</a></p></aside>';

const SKIP_LINK = '<a class="skip" href="#main">Skip to content</a>\n';

function withLocalBanner(file: DashboardFile): DashboardFile {
  if (file.path !== '/index.html') return file;
  const page = file.body.toString('utf8');
  if (!page.includes(SKIP_LINK))
    throw new Error('dashboard/index.html: the skip link the local banner follows is missing');
  const html = page.replace(SKIP_LINK, `${SKIP_LINK}${LOCAL_BANNER}\n`);
  const body = Buffer.from(html, 'utf8');
  return { ...file, body, gzip: gzipSync(body) };
}

function dashboardFiles(): Map<string, DashboardFile> {
  built ??= new Map(buildDashboard().map((file) => [file.path, withLocalBanner(file)]));
  return built;
}

function acceptsGzip(request: IncomingMessage): boolean {
  return /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
}

/**
 * Answers the GET and HEAD requests the dashboard owns (`/`, `/index.html`, `/assets/*`), `undefined` for any
 * other. HEAD gets GET's status and headers; node sends no body for it.
 */
export async function servePage(request: IncomingMessage, path: string): Promise<HttpAnswer | undefined> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  if (path !== '/' && path !== '/index.html' && !path.startsWith('/assets/')) return undefined;
  const file = dashboardFiles().get(path === '/' ? '/index.html' : path);
  if (!file) return undefined;
  const gzip = acceptsGzip(request);
  const body = gzip ? file.gzip : file.body;
  return {
    status: 200,
    headers: {
      'content-type': file.contentType,
      'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      // Set here rather than by node, which leaves it out of a HEAD answer.
      'content-length': String(body.length),
    },
    cookies: [],
    body,
  };
}
