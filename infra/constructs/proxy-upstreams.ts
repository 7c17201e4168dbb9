// Where the metered proxy routes' upstreams are deployed: CDK context `proxyUpstreams`, a JSON object of
// upstream name → base URL (`cdk deploy -c proxyUpstreams='{"sample":"https://api.example.com"}'`). A proxy
// route whose upstream is not named there is not deployed (the synth warns); a name no route uses, or a
// URL that is not https, fails the synth with one line.
import { proxyRoutes, type Route } from '../definitions/routes.ts';

export const PROXY_UPSTREAMS_CONTEXT = 'proxyUpstreams';

/** Upstream name → base URL (trailing slash removed), checked against the route table. */
export function proxyUpstreamsFrom(value: unknown, table: readonly Route[]): Map<string, string> {
  const upstreams = new Map<string, string>();
  if (value === undefined || value === '') return upstreams;
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new Error(`${PROXY_UPSTREAMS_CONTEXT} must be a JSON object of upstream name → https URL`);
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`${PROXY_UPSTREAMS_CONTEXT} must be a JSON object of upstream name → https URL`);
  }
  const used = new Set(proxyRoutes(table).map((route) => route.proxy.upstream));
  for (const [name, url] of Object.entries(parsed)) {
    if (!used.has(name)) {
      throw new Error(
        `${PROXY_UPSTREAMS_CONTEXT} names "${name}", which no proxy route uses (they use: ${[...used].join(', ')})`,
      );
    }
    // The signature proves who sent a request, not what it carries: only TLS keeps the body and headers intact.
    const parsedUrl = typeof url === 'string' && URL.canParse(url) ? new URL(url) : undefined;
    if (parsedUrl?.protocol !== 'https:' || parsedUrl.search || parsedUrl.hash) {
      throw new Error(
        `${PROXY_UPSTREAMS_CONTEXT}: upstream "${name}" must be an https URL, got ${JSON.stringify(url)}`,
      );
    }
    upstreams.set(name, url.replace(/\/+$/, ''));
  }
  return upstreams;
}
