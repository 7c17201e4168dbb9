// Members of an account in the table: who may sign in to it by email, with which role. Each member is two
// items written together, the account's own record (ACCOUNT#a / MEMBER#m) and the person's mapping
// (PERSON#<sha256 of the email> / ACCOUNT#a) that sign-in reads to list a person's accounts.
//
// The account's MEMBER_COUNT item (`owners`, `members`) is in every transaction that adds, changes or removes
// a member, and its conditions keep the rules under races: an owner stops being one only while another
// owner remains (`owners > 1`), and an invitation only below the cap. A role change or removal also checks
// the member's role is still the one it read, so two changes never count from the same stale read.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Actor, Role } from '../auth/caller.ts';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { queryAll } from '../dynamo/query.ts';
import { failedCondition, type TransactItem, transactWrite, updateOrCurrent } from '../dynamo/transact.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import { newUlid, sha256Hex } from '../ids.ts';

/** At most this many members (invited or active) per account. */
export const MAX_MEMBERS = 100;

/** A role change or removal that lost a race with another change of the same member is tried this often. */
const STALE_READ_ATTEMPTS = 5;

export type MemberStatus = 'invited' | 'active';

export type Member = {
  member_id: string;
  account_id: string;
  email: string;
  role: Role;
  status: MemberStatus;
  created_at: string;
  joined_at?: string;
  invited_by: Actor;
};

/** Items to commit in the same transaction as a change (the audit trail's entry), given the member. */
export type AlsoWrite = (member: Member) => TransactItem[];

export class AlreadyMemberError extends ConflictError {
  constructor() {
    super('already_member', 'This address is already a member of the account');
  }
}

export class LastOwnerError extends ConflictError {
  constructor() {
    super('last_owner', 'An account keeps at least one owner: make another member owner first');
  }
}

export class TooManyMembersError extends ConflictError {
  constructor() {
    super('too_many_members', `An account can have at most ${MAX_MEMBERS} members; remove one first`);
  }
}

/** Addresses are compared lower-cased and trimmed, everywhere (the person key hashes this form). */
export function normalEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function emailHash(email: string): string {
  return sha256Hex(normalEmail(email));
}

export function newMemberId(): string {
  return `mem_${newUlid()}`;
}

function stripMemberKeys(item: Record<string, unknown>): Member {
  const { PK: _pk, SK: _sk, kind: _kind, ...member } = item;
  return member as Member;
}

const ownerDelta = (role: Role) => (role === 'owner' ? 1 : 0);

/**
 * The writes that add a member: the counter (below the cap), the member item and the person item (new: an
 * address is a member of an account once). Committed alone by inviteMember, or with a new account.
 */
export function prepareMember(
  accountId: string,
  input: { email: string; role: Role; status?: MemberStatus },
  actor: Actor,
): { member: Member; items: TransactItem[] } {
  const at = nowIso();
  const email = normalEmail(input.email);
  const status = input.status ?? 'invited';
  const member: Member = {
    member_id: newMemberId(),
    account_id: accountId,
    email,
    role: input.role,
    status,
    created_at: at,
    ...(status === 'active' ? { joined_at: at } : {}),
    invited_by: actor,
  };
  const items: TransactItem[] = [
    {
      Update: {
        TableName: config.tableName,
        Key: keys.memberCount(accountId),
        UpdateExpression:
          'SET kind = :kind, members = if_not_exists(members, :zero) + :one, owners = if_not_exists(owners, :zero) + :owner',
        ConditionExpression: 'attribute_not_exists(members) OR members < :cap',
        ExpressionAttributeValues: {
          ':kind': 'member_count',
          ':zero': 0,
          ':one': 1,
          ':owner': ownerDelta(input.role),
          ':cap': MAX_MEMBERS,
        },
      },
    },
    {
      Put: {
        TableName: config.tableName,
        Item: { ...keys.member(accountId, member.member_id), kind: 'member', ...member },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    },
    {
      Put: {
        TableName: config.tableName,
        Item: {
          ...keys.personAccount(emailHash(email), accountId),
          kind: 'person_account',
          account_id: accountId,
          member_id: member.member_id,
          email,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    },
  ];
  return { member, items };
}

/** Indexes of prepareMember's items, for reading a cancelled transaction's reasons. */
const INVITE_COUNTER = 0;
const INVITE_PERSON = 2;

/** Adds a member (status `invited` unless given). 409 already_member or too_many_members. */
export async function inviteMember(
  accountId: string,
  input: { email: string; role: Role; status?: MemberStatus },
  actor: Actor,
  also?: AlsoWrite,
): Promise<Member> {
  const { member, items } = prepareMember(accountId, input, actor);
  const outcome = await transactWrite([...items, ...(also?.(member) ?? [])]);
  if (outcome.committed) return member;
  if (failedCondition(outcome, INVITE_PERSON)) throw new AlreadyMemberError();
  if (failedCondition(outcome, INVITE_COUNTER)) throw new TooManyMembersError();
  throw new Error(`inviting a member was refused: ${JSON.stringify(outcome.reasons)}`);
}

export async function getMember(accountId: string, memberId: string): Promise<Member | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.member(accountId, memberId),
      ConsistentRead: true,
    }),
  );
  return result.Item ? stripMemberKeys(result.Item) : undefined;
}

async function requireMember(accountId: string, memberId: string): Promise<Member> {
  const member = await getMember(accountId, memberId);
  if (!member) throw new NotFoundError('Member not found');
  return member;
}

/** The account's members, oldest first (member ids are ULIDs). */
export async function listMembers(accountId: string): Promise<Member[]> {
  const items = await queryAll({
    TableName: config.tableName,
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
    ExpressionAttributeValues: { ':pk': keys.account(accountId).PK, ':prefix': keys.membersPrefix },
    ConsistentRead: true,
  });
  return items.map(stripMemberKeys);
}

/** The counter's update when a member of `from` becomes `to` (or leaves: `to` undefined). */
function counterChange(accountId: string, from: Role, to: Role | undefined): TransactItem | undefined {
  const owners = (to ? ownerDelta(to) : 0) - ownerDelta(from);
  const members = to ? 0 : -1;
  if (owners === 0 && members === 0) return undefined;
  const stopsBeingOwner = owners < 0;
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.memberCount(accountId),
      UpdateExpression: 'SET owners = owners + :owners, members = members + :members',
      ConditionExpression: stopsBeingOwner ? 'owners > :one' : 'attribute_exists(owners)',
      ExpressionAttributeValues: {
        ':owners': owners,
        ':members': members,
        ...(stopsBeingOwner ? { ':one': 1 } : {}),
      },
    },
  };
}

/** A change's writes: the member's own first; `counterAt` is where the counter's update is, if any. */
type PlannedChange = { items: TransactItem[]; after: Member | undefined; counterAt?: number };

/**
 * Runs a change of one member read just before: `write` builds the member's own write (index 0, conditioned
 * on the role read), then the counter's. A lost race with another change of the member is read again.
 */
async function changeMember(
  accountId: string,
  memberId: string,
  plan: (member: Member) => PlannedChange | 'unchanged',
): Promise<{ before: Member; after: Member | undefined }> {
  for (let attempt = 1; attempt <= STALE_READ_ATTEMPTS; attempt++) {
    const before = await requireMember(accountId, memberId);
    const planned = plan(before);
    if (planned === 'unchanged') return { before, after: before };
    const outcome = await transactWrite(planned.items);
    if (outcome.committed) return { before, after: planned.after };
    // The member changed (or went) since it was read: read it again (the counter's answer is then moot).
    if (failedCondition(outcome, 0)) continue;
    // The counter refuses only when this would leave the account without an owner.
    if (planned.counterAt !== undefined && failedCondition(outcome, planned.counterAt)) {
      throw new LastOwnerError();
    }
    throw new Error(`changing a member was refused: ${JSON.stringify(outcome.reasons)}`);
  }
  throw new ConflictError('member_changed', 'The member kept changing; try again');
}

const memberUnchanged = (accountId: string, member: Member) => ({
  Key: keys.member(accountId, member.member_id),
  ConditionExpression: 'attribute_exists(PK) AND #role = :was',
  ExpressionAttributeNames: { '#role': 'role' },
});

/** Gives a member another role. 404 unknown member; 409 last_owner when the last owner would stop being one. */
export async function changeRole(
  accountId: string,
  memberId: string,
  role: Role,
  _actor: Actor,
  also?: AlsoWrite,
): Promise<Member> {
  const { after } = await changeMember(accountId, memberId, (member) => {
    if (member.role === role) return 'unchanged';
    const changed: Member = { ...member, role };
    const counter = counterChange(accountId, member.role, role);
    const items: TransactItem[] = [
      {
        Update: {
          TableName: config.tableName,
          ...memberUnchanged(accountId, member),
          UpdateExpression: 'SET #role = :role',
          ExpressionAttributeValues: { ':was': member.role, ':role': role },
        },
      },
      ...(counter ? [counter] : []),
      ...(also?.(changed) ?? []),
    ];
    return { items, after: changed, ...(counter ? { counterAt: 1 } : {}) };
  });
  return after as Member;
}

/**
 * Removes a member and their person mapping (so sign-in no longer lists the account, and a session, which
 * re-reads the member on every request, stops working). 404 unknown; 409 last_owner for the last owner.
 */
export async function removeMember(
  accountId: string,
  memberId: string,
  _actor: Actor,
  also?: AlsoWrite,
): Promise<Member> {
  const { before } = await changeMember(accountId, memberId, (member) => {
    const counter = counterChange(accountId, member.role, undefined);
    const items: TransactItem[] = [
      {
        Delete: {
          TableName: config.tableName,
          ...memberUnchanged(accountId, member),
          ExpressionAttributeValues: { ':was': member.role },
        },
      },
      ...(counter ? [counter] : []),
      {
        Delete: {
          TableName: config.tableName,
          Key: keys.personAccount(emailHash(member.email), accountId),
        },
      },
      ...(also?.(member) ?? []),
    ];
    return { items, after: undefined, ...(counter ? { counterAt: 1 } : {}) };
  });
  return before;
}

/** The accounts a person (by email) is a member of, read consistently from their person partition. */
export async function membershipsOf(email: string): Promise<{ account_id: string; member_id: string }[]> {
  const items = await queryAll({
    TableName: config.tableName,
    KeyConditionExpression: 'PK = :pk',
    ExpressionAttributeValues: { ':pk': keys.personPartition(emailHash(email)) },
    ConsistentRead: true,
  });
  return items.map((item) => ({ account_id: String(item.account_id), member_id: String(item.member_id) }));
}

/**
 * An invited member's first sign-in makes them active. Idempotent: an active member is answered as is;
 * `undefined` when there is no such member (removed meanwhile).
 */
export async function markJoined(accountId: string, memberId: string): Promise<Member | undefined> {
  const outcome = await updateOrCurrent({
    TableName: config.tableName,
    Key: keys.member(accountId, memberId),
    UpdateExpression: 'SET #status = :active, joined_at = :at',
    ConditionExpression: 'attribute_exists(PK) AND #status = :invited',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: { ':active': 'active', ':invited': 'invited', ':at': nowIso() },
  });
  return outcome.item ? stripMemberKeys(outcome.item) : undefined;
}
