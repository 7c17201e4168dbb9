// The route table: one line per route, read by the CDK API stack and by the local stack (`npm start`).

import type { FunctionName } from './functions.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'ANY';

/**
 * `token`: a customer's bearer token checked inside the function; `service`: an operator's service key
 * (`svc_`), checked inside the function; `iam`: SigV4 in the cloud, x-admin-key locally.
 */
export type RouteAuth = 'token' | 'service' | 'iam' | 'none';

/**
 * A metered proxy route: the call is paid for with the catalog `feature`, then forwarded to the upstream
 * named `upstream` (its base URL and signing secret are deployment settings, never in code: CDK context
 * `proxyUpstreams` in the cloud, the sample upstream locally), at the request's path below `prefix`.
 */
export type ProxyTarget = {
  upstream: string;
  prefix: string;
  feature: string;
  /** No answer within this → 504 upstream_timeout. Fits the function's timeout (timeouts.ts checks). */
  timeoutMs: number;
};

export type Route = {
  method: HttpMethod;
  path: string;
  function: FunctionName;
  auth: RouteAuth;
  proxy?: ProxyTarget;
};

/** The contract's sample upstream (`npm start` runs it): a small API billed per call and per token. */
const sample = { upstream: 'sample', prefix: '/v1/sample', timeoutMs: 5_000 } as const;

export const routes: Route[] = [
  { method: 'POST', path: '/v1/demo/echo', function: 'demoEcho', auth: 'token' },
  { method: 'POST', path: '/v1/demo/words', function: 'demoWords', auth: 'token' },
  {
    method: 'POST',
    path: '/v1/sample/translate',
    function: 'proxy',
    auth: 'token',
    proxy: { ...sample, feature: 'sample_translate' },
  },
  {
    method: 'POST',
    path: '/v1/sample/complete',
    function: 'proxy',
    auth: 'token',
    proxy: { ...sample, feature: 'sample_complete' },
  },
  { method: 'GET', path: '/v1/credits', function: 'credits', auth: 'token' },
  { method: 'GET', path: '/v1/usage', function: 'usage', auth: 'token' },
  { method: 'GET', path: '/v1/transactions', function: 'transactions', auth: 'token' },
  { method: 'GET', path: '/v1/audit', function: 'audit', auth: 'token' },
  { method: 'GET', path: '/v1/prices', function: 'prices', auth: 'none' },
  { method: 'POST', path: '/v1/tokens', function: 'tokens', auth: 'token' },
  { method: 'GET', path: '/v1/tokens', function: 'tokens', auth: 'token' },
  { method: 'PATCH', path: '/v1/tokens/{id}', function: 'tokens', auth: 'token' },
  { method: 'DELETE', path: '/v1/tokens/{id}', function: 'tokens', auth: 'token' },
  { method: 'POST', path: '/v1/members', function: 'members', auth: 'token' },
  { method: 'GET', path: '/v1/members', function: 'members', auth: 'token' },
  { method: 'PATCH', path: '/v1/members/{id}', function: 'members', auth: 'token' },
  { method: 'DELETE', path: '/v1/members/{id}', function: 'members', auth: 'token' },
  { method: 'POST', path: '/v1/billing/checkout', function: 'billingPurchases', auth: 'token' },
  { method: 'GET', path: '/v1/billing/purchases', function: 'billingPurchases', auth: 'token' },
  { method: 'GET', path: '/v1/billing/purchases/{id}', function: 'billingPurchases', auth: 'token' },
  { method: 'GET', path: '/v1/billing/auto-refill', function: 'billingAutoRefill', auth: 'token' },
  { method: 'PUT', path: '/v1/billing/auto-refill', function: 'billingAutoRefill', auth: 'token' },
  { method: 'PUT', path: '/v1/billing/spend-limit', function: 'billingSpendLimit', auth: 'token' },
  { method: 'GET', path: '/v1/notifications', function: 'notifications', auth: 'token' },
  { method: 'PUT', path: '/v1/notifications', function: 'notifications', auth: 'token' },
  { method: 'POST', path: '/v1/webhook-endpoints', function: 'webhookEndpoints', auth: 'token' },
  { method: 'GET', path: '/v1/webhook-endpoints', function: 'webhookEndpoints', auth: 'token' },
  { method: 'PATCH', path: '/v1/webhook-endpoints/{id}', function: 'webhookEndpoints', auth: 'token' },
  { method: 'DELETE', path: '/v1/webhook-endpoints/{id}', function: 'webhookEndpoints', auth: 'token' },
  {
    method: 'GET',
    path: '/v1/webhook-endpoints/{id}/deliveries',
    function: 'webhookEndpoints',
    auth: 'token',
  },
  { method: 'POST', path: '/v1/webhook-endpoints/{id}/test', function: 'webhookEndpoints', auth: 'token' },
  { method: 'GET', path: '/v1/billing/invoices', function: 'billingInvoices', auth: 'token' },
  { method: 'POST', path: '/v1/meter/charges', function: 'meter', auth: 'service' },
  { method: 'POST', path: '/v1/meter/holds', function: 'meter', auth: 'service' },
  { method: 'POST', path: '/v1/meter/holds/{id}/settle', function: 'meter', auth: 'service' },
  { method: 'POST', path: '/v1/meter/holds/{id}/release', function: 'meter', auth: 'service' },
  { method: 'POST', path: '/auth/signup', function: 'signup', auth: 'none' },
  { method: 'POST', path: '/webhooks/stripe', function: 'stripeWebhook', auth: 'none' },
  { method: 'GET', path: '/billing/return', function: 'billingReturn', auth: 'none' },
  { method: 'POST', path: '/marketplace/register', function: 'marketplaceRegister', auth: 'none' },
  { method: 'POST', path: '/admin/accounts', function: 'adminAccounts', auth: 'iam' },
  { method: 'GET', path: '/admin/accounts/{id}', function: 'adminAccounts', auth: 'iam' },
  { method: 'POST', path: '/admin/accounts/{id}/credits', function: 'adminAccounts', auth: 'iam' },
  { method: 'PUT', path: '/admin/accounts/{id}/billing', function: 'adminAccounts', auth: 'iam' },
  { method: 'PUT', path: '/admin/accounts/{id}/balance-shards', function: 'adminAccounts', auth: 'iam' },
  { method: 'POST', path: '/admin/service-keys', function: 'adminServiceKeys', auth: 'iam' },
  { method: 'GET', path: '/admin/service-keys', function: 'adminServiceKeys', auth: 'iam' },
  { method: 'DELETE', path: '/admin/service-keys/{id}', function: 'adminServiceKeys', auth: 'iam' },
  { method: 'GET', path: '/admin/marketplace/reconciliation', function: 'adminMarketplace', auth: 'iam' },
  { method: 'GET', path: '/admin/marketplace/contracts/{id}', function: 'adminMarketplace', auth: 'iam' },
  { method: 'GET', path: '/openapi.json', function: 'openapi', auth: 'none' },
  // Email sign-in: the session routes check the session cookie inside the function.
  { method: 'POST', path: '/auth/email', function: 'auth', auth: 'none' },
  { method: 'GET', path: '/auth/callback', function: 'auth', auth: 'none' },
  { method: 'POST', path: '/auth/logout', function: 'auth', auth: 'none' },
  { method: 'GET', path: '/auth/session', function: 'auth', auth: 'none' },
  { method: 'PUT', path: '/auth/session', function: 'auth', auth: 'none' },
  // Catch-all, matched only when no route above does: unknown routes answer the contract's 404 body.
  { method: 'ANY', path: '/{proxy+}', function: 'notFound', auth: 'none' },
];

/** API Gateway's route key, e.g. `POST /v1/demo/echo`; handlers dispatch on it. */
export function routeKey(route: Pick<Route, 'method' | 'path'>): string {
  return `${route.method} ${route.path}`;
}

/** The metered proxy routes of a route table. */
export function proxyRoutes(table: readonly Route[] = routes): (Route & { proxy: ProxyTarget })[] {
  return table.filter((route): route is Route & { proxy: ProxyTarget } => route.proxy !== undefined);
}
