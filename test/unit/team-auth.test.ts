// The pure rules of team access: which account a sign-in lands in, the route → role check, the CSRF header,
// and the session cookie's name and attributes locally and deployed.
import { afterEach, describe, expect, it } from 'vitest';
import type { Role } from '#shared/auth/caller.ts';
import { clearedSessionCookie, sessionCookie, sessionIdOf } from '#shared/auth/cookie.ts';
import type { MemberRecord } from '#shared/auth/memberships.ts';
import { requireCsrfHeader, requireRole } from '#shared/auth/route-roles.ts';
import { chooseAccount } from '#shared/auth/sign-in.ts';
import type { ApiEvent } from '#shared/http/api.ts';

afterEach(() => {
  delete process.env.SESSION_COOKIE_SECURE;
});

const membership = (accountId: string, name: string, joinedAt?: string) => ({
  name,
  member: {
    member_id: `mem_${accountId}`,
    account_id: accountId,
    email: 'a@example.com',
    role: 'viewer',
    status: joinedAt ? 'active' : 'invited',
    created_at: '2026-01-01T00:00:00.000Z',
    invited_by: { type: 'operator' },
    ...(joinedAt ? { joined_at: joinedAt } : {}),
  } satisfies MemberRecord,
});

describe('chooseAccount', () => {
  it.each([
    { case: 'none', given: [], chosen: undefined },
    { case: 'the only one', given: [membership('a', 'Zeta')], chosen: 'a' },
    {
      case: 'none of several, even one joined recently: the person picks',
      given: [
        membership('a', 'Alpha', '2026-03-01T00:00:00.000Z'),
        membership('b', 'Beta', '2026-05-01T00:00:00.000Z'),
        membership('c', 'Gamma'),
      ],
      chosen: undefined,
    },
    {
      case: 'none of two not joined yet',
      given: [membership('x', 'Alpha'), membership('y', 'Beta')],
      chosen: undefined,
    },
  ])('$case', ({ given, chosen }) => {
    expect(chooseAccount(given)?.member.account_id).toBe(chosen);
  });
});

describe('requireRole', () => {
  const cases: [string, Role, boolean][] = [
    ['GET /v1/credits', 'viewer', true],
    ['POST /v1/billing/checkout', 'viewer', false],
    ['POST /v1/billing/checkout', 'billing', true],
    ['PUT /v1/notifications', 'billing', true],
    ['POST /v1/tokens', 'billing', false],
    ['POST /v1/tokens', 'owner', true],
    ['DELETE /v1/members/{id}', 'billing', false],
    ['GET /v1/audit', 'owner', true],
    ['POST /v1/demo/echo', 'owner', false],
    ['GET /v1/not-in-the-table', 'owner', false],
  ];
  it.each(cases)('%s as %s: allowed %s', (route, role, allowed) => {
    if (allowed) expect(() => requireRole(route, role)).not.toThrow();
    else
      expect(() => requireRole(route, role)).toThrow(
        expect.objectContaining({ status: 403, code: 'forbidden' }),
      );
  });
});

describe('requireCsrfHeader', () => {
  it.each([
    ['GET', undefined, true],
    ['HEAD', undefined, true],
    ['POST', undefined, false],
    ['DELETE', 'XMLHttpRequest', false],
    ['PATCH', 'credits-dashboard', true],
  ] as const)('%s with %s: allowed %s', (method, value, allowed) => {
    if (allowed) expect(() => requireCsrfHeader(method, value)).not.toThrow();
    else expect(() => requireCsrfHeader(method, value)).toThrow(expect.objectContaining({ status: 403 }));
  });
});

describe('the session cookie', () => {
  const event = (cookies: string[]) => ({ cookies }) as unknown as ApiEvent;

  it('locally: credits_session, HttpOnly, SameSite=Strict, Path=/, not Secure', () => {
    expect(sessionCookie('abc', 60)).toBe(
      'credits_session=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=60',
    );
    expect(clearedSessionCookie()).toBe('credits_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0');
    expect(sessionIdOf(event(['other=1', 'credits_session=abc']))).toBe('abc');
  });

  it('deployed: __Host-credits_session and Secure; the unprefixed name is not read', () => {
    process.env.SESSION_COOKIE_SECURE = 'true';
    expect(sessionCookie('abc', 60)).toBe(
      '__Host-credits_session=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure',
    );
    expect(sessionIdOf(event(['credits_session=abc']))).toBeUndefined();
    expect(sessionIdOf(event(['__Host-credits_session=abc']))).toBe('abc');
  });
});
