// Who is calling an account route, whichever way they proved it: a bearer token (its scopes decide) or a
// member's dashboard session (its role decides, shared/auth/route-roles.ts). Handlers of account routes read
// the account from here (callerOf); the audit trail records `actor` as who made a change.

/** A member's role in an account: each includes everything the one before it may do. */
export type Role = 'viewer' | 'billing' | 'owner';
export const ROLES: readonly Role[] = ['viewer', 'billing', 'owner'];

/** Who made a change: a member signed in by email, an API token, the operator (/admin), or the system itself. */
export type Actor =
  | { type: 'member'; id: string; email: string }
  | { type: 'token'; id: string }
  | { type: 'operator' }
  | { type: 'system' };

export type Caller = {
  accountId: string;
  actor: Actor;
  /** A session's role in the account; absent for tokens (their scopes were checked instead). */
  role?: Role;
  /** The session's own id (hashed), for a session caller: logout and switching end or change it. */
  sessionHash?: string;
};

/** `role` may do what `needed` allows. */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}
