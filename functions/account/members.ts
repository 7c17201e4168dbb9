// /v1/members: invite (with an invitation email), list, change the role of and remove the account's members
// (billing tokens today; owner sessions once sign-in by email lands). The rules (at least one owner, at most
// 100 members, an address once per account) are the store's (shared/members/store.ts).
import * as z from 'zod/mini';
import { memberAudit } from '#shared/audit/trail.ts';
import { ROLES, type Role } from '#shared/auth/caller.ts';
import { type ApiContext, json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf, callerOf, pathOf } from '#shared/http/middleware.ts';
import { inviteWithEmail, memberView } from '#shared/members/service.ts';
import { changeRole, listMembers, removeMember } from '#shared/members/store.ts';

const role = z.enum(ROLES as [Role, ...Role[]]);

export const newMember = z.strictObject({
  email: z.pipe(z.string().check(z.trim(), z.toLowerCase()), z.email().check(z.maxLength(320))),
  role,
});

export const memberChanges = z.strictObject({ role });

/** Checked before anything is read, so a malformed id is a 404 at no cost. */
export const memberPath = z.object({ id: z.string().check(z.maxLength(64)) });

const memberIdOf = (context: ApiContext) => pathOf<z.infer<typeof memberPath>>(context).id;

export const handler = byRoute({
  'POST /v1/members': apiRoute(
    { auth: 'billing', body: newMember, idempotent: true },
    async (_event, context) => {
      const { accountId, actor } = callerOf(context);
      const member = await inviteWithEmail(accountId, bodyOf<z.infer<typeof newMember>>(context), actor, {
        also: memberAudit(accountId, actor, 'member.invited'),
      });
      return json(201, memberView(member));
    },
  ),
  'GET /v1/members': apiRoute({ auth: 'billing' }, async (_event, context) =>
    json(200, { data: (await listMembers(callerOf(context).accountId)).map(memberView) }),
  ),
  'PATCH /v1/members/{id}': apiRoute(
    { auth: 'billing', path: memberPath, body: memberChanges },
    async (_event, context) => {
      const { accountId, actor } = callerOf(context);
      const { role: next } = bodyOf<z.infer<typeof memberChanges>>(context);
      return json(
        200,
        memberView(
          await changeRole(
            accountId,
            memberIdOf(context),
            next,
            actor,
            memberAudit(accountId, actor, 'member.role_changed'),
          ),
        ),
      );
    },
  ),
  'DELETE /v1/members/{id}': apiRoute({ auth: 'billing', path: memberPath }, async (_event, context) => {
    const { accountId, actor } = callerOf(context);
    await removeMember(
      accountId,
      memberIdOf(context),
      actor,
      memberAudit(accountId, actor, 'member.removed'),
    );
    return json(204, null);
  }),
});
