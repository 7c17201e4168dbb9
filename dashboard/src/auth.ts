// Dashboard: signing in by email. The session itself is an HttpOnly cookie the page never reads; these calls
// ask for a link, read who is signed in and into which account, switch accounts and sign out. The /auth
// routes sit beside the API (same origin), outside /v1, so they are called with fetch directly; their
// refusals become the same ApiError as the API's.
import { ApiError, DASHBOARD_REQUESTED_WITH, errorFrom } from './api.ts';

export type Role = 'viewer' | 'billing' | 'owner';
export const ROLES: readonly Role[] = ['viewer', 'billing', 'owner'];

export type AccountChoice = { id: string; name: string; role: Role };
/** GET /auth/session: the signed-in person, the account they act in (null until chosen) and all of theirs. */
export type SignedIn = { email: string; account: AccountChoice | null; accounts: AccountChoice[] };
type SessionAnswer = Omit<SignedIn, 'email'> & { email: string | null };

export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export const roleNames: Record<Role, string> = { viewer: 'Viewer', billing: 'Billing', owner: 'Owner' };

async function call<T>(method: string, path: string, body?: unknown): Promise<T | undefined> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      cache: 'no-store',
      credentials: 'same-origin',
      headers: {
        accept: 'application/json',
        'x-requested-with': DASHBOARD_REQUESTED_WITH,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiError(
      0,
      'network_error',
      'The billing service could not be reached. Check your connection and try again.',
      [],
      null,
    );
  }
  const text = await response.text();
  const parsed = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) throw errorFrom(response, parsed);
  return parsed as T | undefined;
}

/**
 * The session's person and account, or null when there is no (valid) session cookie: the API then answers
 * 200 with `email: null` (not a 401, which the browser would log on every visit by a signed-out reader).
 */
export async function signedIn(): Promise<SignedIn | null> {
  const answer = await call<SessionAnswer>('GET', '/auth/session');
  return answer?.email ? { ...answer, email: answer.email } : null;
}

/** Asks for a sign-in link; the API answers the same whether or not the address is a member. */
export async function emailLink(email: string): Promise<void> {
  await call('POST', '/auth/email', { email });
}

export async function switchAccount(accountId: string): Promise<SignedIn> {
  return (await call<SignedIn>('PUT', '/auth/session', { account_id: accountId }))!;
}

export async function signOutSession(): Promise<void> {
  await call('POST', '/auth/logout');
}
