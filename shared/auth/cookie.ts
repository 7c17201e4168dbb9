// The session cookie: its name and attributes, and finding it among a request's cookies. Deployed (the CDK
// sets SESSION_COOKIE_SECURE=true on every function) it is `__Host-credits_session` with `Secure`, so only
// HTTPS on this exact host can set or read it; locally (`npm start`, plain http) `credits_session` without
// `Secure`. Always HttpOnly (no script reads it), SameSite=Strict (no other site's request carries it), Path=/.
import type { ApiEvent } from '../http/api.ts';

const BASE_NAME = 'credits_session';

export function cookieIsSecure(): boolean {
  return process.env.SESSION_COOKIE_SECURE === 'true';
}

export function sessionCookieName(): string {
  return cookieIsSecure() ? `__Host-${BASE_NAME}` : BASE_NAME;
}

function attributes(maxAgeSeconds: number): string {
  return `HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}${cookieIsSecure() ? '; Secure' : ''}`;
}

/** The Set-Cookie value that gives the browser a session id for `maxAgeSeconds`. */
export function sessionCookie(sessionId: string, maxAgeSeconds: number): string {
  return `${sessionCookieName()}=${sessionId}; ${attributes(Math.max(0, Math.floor(maxAgeSeconds)))}`;
}

/** The Set-Cookie value that removes the session cookie. */
export function clearedSessionCookie(): string {
  return `${sessionCookieName()}=; ${attributes(0)}`;
}

/** The session id the request's cookies carry (payload 2.0 lists them in `event.cookies`), if any. */
export function sessionIdOf(event: ApiEvent): string | undefined {
  const name = sessionCookieName();
  for (const cookie of event.cookies ?? []) {
    const at = cookie.indexOf('=');
    if (at > 0 && cookie.slice(0, at).trim() === name) return cookie.slice(at + 1).trim() || undefined;
  }
  return undefined;
}
