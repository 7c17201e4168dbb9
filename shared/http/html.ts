// The few server-rendered pages (registration, checkout return, the emulators' pages): escaping and one
// small, script-free page shape with headers that keep it out of caches, frames and referrers.
import { type ApiResult, SECURITY_HEADERS } from './api.ts';

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** A page with `title` (escaped here) and `bodyHtml` (the caller escapes what it interpolates). */
export function htmlPage(title: string, bodyHtml: string, status = 200): ApiResult {
  return {
    statusCode: status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      // Pages may carry a secret shown once: never cached, never framed, never leaked in a referrer. (Also set
      // here, not only by apiRequest(), for the emulators' pages, which no API middleware serves.)
      ...SECURITY_HEADERS,
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      // `img-src data:` for the empty icon below: without one, browsers ask for /favicon.ico (a 404).
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><title>${escapeHtml(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;line-height:1.5}code{display:block;padding:.75rem;background:#f4f4f4;word-break:break-all}</style></head><body><main><h1>${escapeHtml(title)}</h1>${bodyHtml}</main></body></html>`,
  };
}
