// Who may do what with a dashboard session: the minimum role of every token route (route key → role), next to
// the token scope check (shared/tokens/authenticate.ts `requireScope`). `null`: tokens only (the metered calls,
// which charge a token). A route missing here is refused to sessions: the table fails closed, and a test walks
// the route table so that no token route lacks an entry.
import { ForbiddenError } from '../errors.ts';
import { type Role, roleAtLeast } from './caller.ts';

export const ROUTE_ROLES: Readonly<Record<string, Role | null>> = {
  // Metered calls: paid by a token, never by a person's session.
  'POST /v1/demo/echo': null,
  'POST /v1/demo/words': null,
  'POST /v1/sample/translate': null,
  'POST /v1/sample/complete': null,
  // viewer: the account's reads.
  'GET /v1/credits': 'viewer',
  'GET /v1/usage': 'viewer',
  'GET /v1/transactions': 'viewer',
  'GET /v1/billing/purchases': 'viewer',
  'GET /v1/billing/purchases/{id}': 'viewer',
  'GET /v1/billing/invoices': 'viewer',
  // billing: buying credits and the money settings (their reads too: they show the payment method).
  'POST /v1/billing/checkout': 'billing',
  'GET /v1/billing/auto-refill': 'billing',
  'PUT /v1/billing/auto-refill': 'billing',
  'PUT /v1/billing/spend-limit': 'billing',
  'GET /v1/notifications': 'billing',
  'PUT /v1/notifications': 'billing',
  // owner: API tokens, members, webhook endpoints, the audit trail.
  'POST /v1/tokens': 'owner',
  'GET /v1/tokens': 'owner',
  'PATCH /v1/tokens/{id}': 'owner',
  'DELETE /v1/tokens/{id}': 'owner',
  'POST /v1/members': 'owner',
  'GET /v1/members': 'owner',
  'PATCH /v1/members/{id}': 'owner',
  'DELETE /v1/members/{id}': 'owner',
  'GET /v1/audit': 'owner',
  'POST /v1/webhook-endpoints': 'owner',
  'GET /v1/webhook-endpoints': 'owner',
  'PATCH /v1/webhook-endpoints/{id}': 'owner',
  'DELETE /v1/webhook-endpoints/{id}': 'owner',
  'GET /v1/webhook-endpoints/{id}/deliveries': 'owner',
  'POST /v1/webhook-endpoints/{id}/test': 'owner',
};

/** Throws ForbiddenError unless a session with `role` may call `routeKey`. */
export function requireRole(routeKey: string, role: Role): void {
  const needed = ROUTE_ROLES[routeKey];
  if (needed === undefined || needed === null) {
    throw new ForbiddenError('This route takes an API token, not a dashboard session');
  }
  if (!roleAtLeast(role, needed)) {
    throw new ForbiddenError(`This needs the ${needed} role in the account; yours is ${role}`);
  }
}

/** Methods that change nothing: a cookie-authorised request with any other needs the CSRF header. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);
export const CSRF_HEADER = 'x-requested-with';
export const CSRF_VALUE = 'credits-dashboard';

/** Throws ForbiddenError when a mutating cookie request lacks `x-requested-with: credits-dashboard`. */
export function requireCsrfHeader(method: string, value: string | undefined): void {
  if (SAFE_METHODS.has(method.toUpperCase())) return;
  if (value !== CSRF_VALUE) {
    throw new ForbiddenError(`A request signed in by cookie needs the ${CSRF_HEADER}: ${CSRF_VALUE} header`);
  }
}
