// The email sign-in flow behind the /auth routes (functions/auth/auth.ts): send a link to a member, turn a
// used link into a session in one of their accounts, describe and switch the session's account. Sign-up links
// (purpose 'signup') are the members side's (shared/members/), not handled here.
import { getAccount } from '../accounts/repository.ts';
import { NotFoundError } from '../errors.ts';
import { newUlid } from '../ids.ts';
import { brand } from '../notifications/emails.ts';
import { sendEmail } from '../notifications/mailer.ts';
import { signInLinkEmail } from '../notifications/templates.ts';
import { logger } from '../observability/powertools.ts';
import type { Role } from './caller.ts';
import { createLink, LINK_LIFETIME_MS } from './links.ts';
import { type MemberRecord, markJoined, membershipsOf, normalEmail, readMember } from './memberships.ts';
import { createSession, type Session, switchSessionAccount } from './sessions.ts';

/** One account of a person, as the session routes describe it. */
export type AccountChoice = { id: string; name: string; role: Role };
export type SessionView = { email: string; account: AccountChoice | null; accounts: AccountChoice[] };

type Membership = { member: MemberRecord; name: string };

/** The person's memberships that still exist, with their accounts' names: by name, then account id. */
async function liveMemberships(email: string): Promise<Membership[]> {
  const found = await Promise.all(
    (await membershipsOf(email)).map(async ({ account_id, member_id }) => {
      const [member, account] = await Promise.all([
        readMember(account_id, member_id),
        getAccount(account_id),
      ]);
      return member && account ? { member, name: account.name } : undefined;
    }),
  );
  return found
    .filter((membership): membership is Membership => membership !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name) || a.member.account_id.localeCompare(b.member.account_id));
}

/**
 * Emails a sign-in link when the address is a member of some account; otherwise does nothing, and the caller
 * answers the same 202 (no one learns which addresses are members).
 */
export async function sendSignInLink(email: string): Promise<void> {
  const memberships = await membershipsOf(email);
  const first = memberships[0];
  if (!first) return;
  const secret = await createLink(email, 'signin');
  const { productName, dashboardUrl } = await brand();
  const message = signInLinkEmail(
    { productName, dashboardUrl },
    { url: `${dashboardUrl}/auth/callback?token=${secret}`, validMinutes: LINK_LIFETIME_MS / 60_000 },
  );
  try {
    await sendEmail({
      ...message,
      to: normalEmail(email),
      event: 'auth.sign_in_link',
      accountId: first.account_id,
      eventId: `signin_${newUlid()}`,
    });
  } catch (error) {
    // Still the same 202: an error only members could get would tell who is one. The person asks again.
    logger.error('sign-in link not sent', { error });
  }
}

/**
 * The account a fresh sign-in lands in: a person with one account is in it; a member of several picks one
 * (GET /auth/session lists them with `account: null`, the dashboard shows the choice, PUT /auth/session
 * takes it), so nobody acts in an account they did not choose.
 */
export function chooseAccount(memberships: readonly Membership[]): Membership | undefined {
  return memberships.length === 1 ? memberships[0] : undefined;
}

/** A used sign-in link's person gets a session (in their account, if one); undefined when they are in none. */
export async function signIn(email: string): Promise<{ sessionId: string; session: Session } | undefined> {
  const memberships = await liveMemberships(email);
  if (!memberships.length) return undefined;
  const chosen = chooseAccount(memberships);
  if (!chosen) return createSession(email, undefined);
  const { account_id, member_id } = chosen.member;
  await markJoined(account_id, member_id);
  return createSession(email, { accountId: account_id, memberId: member_id });
}

function choice({ member, name }: Membership): AccountChoice {
  return { id: member.account_id, name, role: member.role };
}

/** GET /auth/session: who is signed in, the account they act in (null once removed from it), and all theirs. */
export async function sessionView(session: Session): Promise<SessionView> {
  const memberships = await liveMemberships(session.email);
  const current = memberships.find(
    ({ member }) => member.account_id === session.account_id && member.member_id === session.member_id,
  );
  return {
    email: session.email,
    account: current ? choice(current) : null,
    accounts: memberships.map(choice),
  };
}

/** PUT /auth/session: acts in another of the person's accounts (404 when they are not a member of it). */
export async function switchAccount(session: Session, accountId: string): Promise<SessionView> {
  const target = (await liveMemberships(session.email)).find(({ member }) => member.account_id === accountId);
  if (!target) throw new NotFoundError('You are not a member of this account');
  await markJoined(accountId, target.member.member_id);
  return sessionView(await switchSessionAccount(session, accountId, target.member.member_id));
}
