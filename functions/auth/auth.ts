// /auth: email sign-in for the dashboard. POST /auth/email sends a member a sign-in link (202 whatever the
// address), GET /auth/callback turns the link into a session cookie, POST /auth/logout ends it, GET and PUT
// /auth/session describe and switch the account it acts in. The session routes check the cookie themselves.
import * as z from 'zod/mini';
import { clearedSessionCookie, sessionCookie, sessionIdOf } from '#shared/auth/cookie.ts';
import { consumeLink, type LinkRefusal } from '#shared/auth/links.ts';
import { answeringNoSoonerThan, enforceAuthEmailLimits } from '#shared/auth/rate.ts';
import { CSRF_HEADER, requireCsrfHeader } from '#shared/auth/route-roles.ts';
import { accountChoiceSchema, sessionViewSchema } from '#shared/auth/schemas.ts';
import {
  cookieMaxAge,
  createSession,
  deleteSession,
  readSession,
  type Session,
} from '#shared/auth/sessions.ts';
import { sendSignInLink, sessionView, signIn, switchAccount } from '#shared/auth/sign-in.ts';
import { completeSignup } from '#shared/auth/signup.ts';
import { config } from '#shared/config.ts';
import { UnauthorizedError } from '#shared/errors.ts';
import { type ApiEvent, type ApiResult, header, json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { escapeHtml, htmlPage } from '#shared/http/html.ts';
import { bodyOf } from '#shared/http/middleware.ts';
import { brand } from '#shared/notifications/emails.ts';

export const signInRequest = z.strictObject({
  email: z.pipe(z.string().check(z.trim(), z.toLowerCase(), z.maxLength(254)), z.email()),
});
export const signInAccepted = z.strictObject({ status: z.literal('sent') });
export const accountSwitch = z.strictObject({
  account_id: z.string().check(z.minLength(1), z.maxLength(100)),
});
export { accountChoiceSchema, sessionViewSchema };

const refusalPages: Record<LinkRefusal, { status: number; title: string; message: string }> = {
  expired: {
    status: 410,
    title: 'Link expired',
    message: 'This sign-in link has expired: links work for 15 minutes.',
  },
  used: {
    status: 410,
    title: 'Link already used',
    message: 'This sign-in link was already used: each works once.',
  },
  invalid: { status: 400, title: 'Invalid link', message: 'This sign-in link is not valid.' },
};

const SIGNED_OUT = { email: null, account: null, accounts: [] };

async function dashboardBase(): Promise<string> {
  return (await brand()).dashboardUrl;
}

async function refusedLink(reason: LinkRefusal): Promise<ApiResult> {
  const { status, title, message } = refusalPages[reason];
  const signInUrl = `${await dashboardBase()}/`;
  return htmlPage(
    title,
    `<p role="status">${escapeHtml(message)}</p><p><a href="${escapeHtml(signInUrl)}">Get a new sign-in link</a></p>`,
    status,
  );
}

/** The session cookie, and on to the dashboard. */
async function signedInRedirect(signedIn: { sessionId: string; session: Session }): Promise<ApiResult> {
  return {
    statusCode: 302,
    headers: { location: `${await dashboardBase()}/` },
    cookies: [sessionCookie(signedIn.sessionId, cookieMaxAge(signedIn.session))],
    body: '',
  };
}

async function currentSession(event: ApiEvent): Promise<Session> {
  const session = await readSession(sessionIdOf(event));
  if (!session) throw new UnauthorizedError('Not signed in, or the session has ended');
  return session;
}

export const handler = byRoute({
  'POST /auth/email': apiRoute({ auth: 'none', body: signInRequest }, async (event, context) => {
    const { email } = bodyOf<z.infer<typeof signInRequest>>(context);
    await enforceAuthEmailLimits(email, event.requestContext.http.sourceIp);
    await answeringNoSoonerThan(config.authEmailMinMs, () => sendSignInLink(email));
    return json(202, { status: 'sent' });
  }),
  'GET /auth/callback': apiRoute({ auth: 'none' }, async (event) => {
    const outcome = await consumeLink(event.queryStringParameters?.token);
    if (!outcome.ok) return refusedLink(outcome.reason);
    const { link } = outcome;
    // A sign-up's link opens its account (owner: the person), then signs in to it like a sign-in link.
    if (link.purpose === 'signup') {
      if (!config.selfSignup || !link.name) return refusedLink('invalid');
      const opened = await completeSignup({ email: link.email, name: link.name });
      return signedInRedirect(await createSession(link.email, opened));
    }
    const signedIn = await signIn(link.email);
    if (!signedIn) {
      return htmlPage(
        'No account',
        '<p role="status">This address is no longer a member of any account. Ask an owner of the account to invite you.</p>',
        403,
      );
    }
    return signedInRedirect(signedIn);
  }),
  'POST /auth/logout': apiRoute({ auth: 'none' }, async (event) => {
    requireCsrfHeader('POST', header(event, CSRF_HEADER));
    const session = await readSession(sessionIdOf(event));
    if (session) await deleteSession(session.hash);
    return { ...json(204, null), cookies: [clearedSessionCookie()] };
  }),
  // Signed out (no cookie, or a session that ended) is an answer, not an error: the dashboard asks on every
  // load, and a 401 would be logged by the browser for every signed-out visit.
  'GET /auth/session': apiRoute({ auth: 'none' }, async (event) => {
    const session = await readSession(sessionIdOf(event));
    return json(200, session ? await sessionView(session) : SIGNED_OUT);
  }),
  'PUT /auth/session': apiRoute({ auth: 'none', body: accountSwitch }, async (event, context) => {
    requireCsrfHeader('PUT', header(event, CSRF_HEADER));
    const session = await currentSession(event);
    const { account_id } = bodyOf<z.infer<typeof accountSwitch>>(context);
    return json(200, await switchAccount(session, account_id));
  }),
});
