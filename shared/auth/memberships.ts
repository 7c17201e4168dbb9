// The team-auth side's reads (and one write) of membership items, straight from the key layout of the design
// (PERSON#<email hash>/ACCOUNT#<id> and ACCOUNT#<id>/MEMBER#<id>): sign-in, sessions and the route check need
// only these, so they do not wait on the members store (shared/members/), which owns invitations and changes.
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { sha256Hex } from '../ids.ts';
import type { Role } from './caller.ts';

export type MemberStatus = 'invited' | 'active';

/** A member item, as the members store writes it. */
export type MemberRecord = {
  member_id: string;
  account_id: string;
  email: string;
  role: Role;
  status: MemberStatus;
  created_at: string;
  joined_at?: string;
};

export type Membership = { account_id: string; member_id: string };

/** Addresses are compared lower-cased and trimmed (the design's one rule for emails). */
export function normalEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function emailHashOf(email: string): string {
  return sha256Hex(normalEmail(email));
}

/** The accounts a person belongs to, by their PERSON# items (read consistently: a fresh invitation counts). */
export async function membershipsOf(email: string): Promise<Membership[]> {
  const result = await ddb().send(
    new QueryCommand({
      TableName: config.tableName,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': keys.personPartition(emailHashOf(email)) },
      ConsistentRead: true,
    }),
  );
  // One page holds them: a person is a member of a few accounts, each item a few hundred bytes.
  return (result.Items ?? []).map((item) => ({
    account_id: String(item.account_id),
    member_id: String(item.member_id),
  }));
}

/** One member item, read consistently: a removal or a role change applies to the very next request. */
export async function readMember(accountId: string, memberId: string): Promise<MemberRecord | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.member(accountId, memberId),
      ConsistentRead: true,
    }),
  );
  return result.Item as MemberRecord | undefined;
}

/** Invited → active on the first sign-in into the account; a no-op for an active or removed member. */
export async function markJoined(accountId: string, memberId: string): Promise<void> {
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.member(accountId, memberId),
        UpdateExpression: 'SET #status = :active, joined_at = :now',
        ConditionExpression: 'attribute_exists(PK) AND #status = :invited',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':active': 'active', ':invited': 'invited', ':now': nowIso() },
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
  }
}
