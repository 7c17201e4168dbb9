// Members as the API shows them, and inviting with an email: the store (shared/members/store.ts) keeps the
// rules; this adds the invitation email and the wire view.
//
// The invitation carries no secret: it links to the dashboard's sign-in with the address filled in
// (`<dashboard>/?signin=<email>`), where the person asks for a sign-in link (POST /auth/email). So an
// invitation never expires, and a forwarded one lets nobody in.
import * as z from 'zod/mini';
import { getAccount } from '../accounts/repository.ts';
import { type Actor, ROLES, type Role } from '../auth/caller.ts';
import { isoTime } from '../http/validation.ts';
import { brand } from '../notifications/emails.ts';
import { sendEmail } from '../notifications/mailer.ts';
import { memberInvitationEmail } from '../notifications/templates.ts';
import { logger } from '../observability/powertools.ts';
import { type AlsoWrite, inviteMember, type Member, type MemberStatus } from './store.ts';

export const memberSchema = z.object({
  id: z.string().check(z.describe('`mem_<ULID>`')),
  email: z.string(),
  role: z.enum(ROLES as [Role, ...Role[]]),
  status: z.enum(['invited', 'active']).check(z.describe('`active` once the member has signed in')),
  created_at: isoTime,
  joined_at: z.nullable(isoTime),
});

export function memberView(member: Member): z.output<typeof memberSchema> {
  return {
    id: member.member_id,
    email: member.email,
    role: member.role,
    status: member.status,
    created_at: member.created_at,
    joined_at: member.joined_at ?? null,
  };
}

/** The dashboard's sign-in, with the address filled in. */
export function signInPageUrl(dashboardUrl: string, email: string): string {
  return `${dashboardUrl}/?signin=${encodeURIComponent(email)}`;
}

/**
 * Tells an invited person (by email) where to sign in. A failed send is logged, not thrown: the member
 * exists, and can sign in from the dashboard without the email.
 */
export async function sendInvitation(member: Member, accountName?: string): Promise<void> {
  try {
    const look = await brand();
    const name = accountName ?? (await getAccount(member.account_id))?.name ?? member.account_id;
    const message = memberInvitationEmail(look, {
      accountId: member.account_id,
      accountName: name,
      role: member.role,
      signInUrl: signInPageUrl(look.dashboardUrl, member.email),
    });
    await sendEmail({
      ...message,
      to: member.email,
      event: 'member.invited',
      accountId: member.account_id,
      eventId: member.member_id,
    });
  } catch (error) {
    logger.warn('invitation email not sent', {
      accountId: member.account_id,
      memberId: member.member_id,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/** Invites a member and emails them the invitation. */
export async function inviteWithEmail(
  accountId: string,
  input: { email: string; role: Role; status?: MemberStatus },
  actor: Actor,
  options: { accountName?: string; also?: AlsoWrite } = {},
): Promise<Member> {
  const member = await inviteMember(accountId, input, actor, options.also);
  await sendInvitation(member, options.accountName);
  return member;
}
