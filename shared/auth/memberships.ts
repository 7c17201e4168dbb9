// What sign-in, sessions and the route check read of members, from the members store (shared/members/store.ts):
// one place reads and writes membership items. Kept as the auth side's names for them.
import {
  emailHash,
  getMember,
  type Member,
  type MemberStatus,
  markJoined,
  membershipsOf,
  normalEmail,
} from '../members/store.ts';

export type { MemberStatus };
/** A member item, as sessions read it (consistently: a removal or a role change applies to the next request). */
export type MemberRecord = Member;
export type Membership = { account_id: string; member_id: string };

export { markJoined, membershipsOf, normalEmail };
export const emailHashOf = emailHash;
export const readMember = getMember;
