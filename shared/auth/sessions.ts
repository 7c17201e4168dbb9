// Dashboard sessions: the cookie holds a random 256-bit id, the table only its SHA-256 (keys.session). A
// session lasts at most SESSION_LIFETIME_MS from sign-in, and ends sooner after SESSION_IDLE_MS without use
// (the idle deadline moves forward at most once per SESSION_REFRESH_MS, so a busy dashboard costs one write an
// hour, not one per request). Every request re-reads the session and the member item, consistently, so a
// removal, a role change or a logout applies to the next request.
import { randomBytes } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { UnauthorizedError } from '../errors.ts';
import { sha256Hex } from '../ids.ts';
import { emailHashOf, type MemberRecord, normalEmail, readMember } from './memberships.ts';

export const SESSION_LIFETIME_MS = 30 * 86_400_000;
export const SESSION_IDLE_MS = 7 * 86_400_000;
export const SESSION_REFRESH_MS = 3_600_000;

export type SessionRecord = {
  email: string;
  /** The account the session acts in, and the person's member id there; absent until one is chosen. */
  account_id?: string;
  member_id?: string;
  created_at: string;
  /** Absolute end, epoch seconds (also the table's TTL attribute, so DynamoDB removes it afterwards). */
  expires_at: number;
  /** Sliding end, epoch ms: last use (rounded to the refresh) + SESSION_IDLE_MS. */
  idle_expires_at: number;
};

export type Session = SessionRecord & { hash: string };

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export function hashSessionId(sessionId: string): string {
  return sha256Hex(sessionId);
}

/** Starts a session for `email` in `account`; answers the id for the cookie (never stored) and the record. */
export async function createSession(
  email: string,
  account: { accountId: string; memberId: string } | undefined,
): Promise<{ sessionId: string; session: Session }> {
  const sessionId = randomBytes(32).toString('base64url');
  const hash = hashSessionId(sessionId);
  const at = nowMs();
  const record: SessionRecord = {
    email: normalEmail(email),
    ...(account ? { account_id: account.accountId, member_id: account.memberId } : {}),
    created_at: new Date(at).toISOString(),
    expires_at: Math.floor((at + SESSION_LIFETIME_MS) / 1000),
    idle_expires_at: at + SESSION_IDLE_MS,
  };
  await ddb().send(
    new PutCommand({
      TableName: config.tableName,
      Item: {
        ...keys.session(hash),
        kind: 'session',
        ...record,
        // The person's sessions, for signing out everywhere or ending a removed member's (GSI1, sparse).
        GSI1PK: keys.personSessions(emailHashOf(email)),
        GSI1SK: `${record.created_at}#${hash}`,
      },
      ConditionExpression: 'attribute_not_exists(PK)',
    }),
  );
  return { sessionId, session: { ...record, hash } };
}

/** Seconds the cookie should live: until the session's absolute end. */
export function cookieMaxAge(session: SessionRecord): number {
  return session.expires_at - Math.floor(nowMs() / 1000);
}

/** The live session with this cookie id, or undefined (unknown, malformed, expired, idle too long). */
export async function readSession(sessionId: string | undefined): Promise<Session | undefined> {
  if (!sessionId || !SESSION_ID.test(sessionId)) return undefined;
  const hash = hashSessionId(sessionId);
  const result = await ddb().send(
    new GetCommand({ TableName: config.tableName, Key: keys.session(hash), ConsistentRead: true }),
  );
  const item = result.Item;
  if (!item) return undefined;
  const at = nowMs();
  const record = item as unknown as SessionRecord;
  if (at >= record.expires_at * 1000 || at >= record.idle_expires_at) return undefined;
  const session: Session = {
    email: record.email,
    ...(record.account_id ? { account_id: record.account_id, member_id: String(record.member_id) } : {}),
    created_at: record.created_at,
    expires_at: record.expires_at,
    idle_expires_at: record.idle_expires_at,
    hash,
  };
  return refreshed(session, at);
}

/** Moves the idle deadline forward when the last move is more than SESSION_REFRESH_MS old. */
async function refreshed(session: Session, at: number): Promise<Session> {
  const lastMove = session.idle_expires_at - SESSION_IDLE_MS;
  if (at - lastMove < SESSION_REFRESH_MS) return session;
  const idle = at + SESSION_IDLE_MS;
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.session(session.hash),
        UpdateExpression: 'SET idle_expires_at = :idle',
        // Never revives a session deleted meanwhile (logout), nor moves the deadline backwards.
        ConditionExpression: 'attribute_exists(PK) AND idle_expires_at < :idle',
        ExpressionAttributeValues: { ':idle': idle },
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
  }
  return { ...session, idle_expires_at: idle };
}

/** Points the session at another account the person is a member of (the caller checked the membership). */
export async function switchSessionAccount(
  session: Session,
  accountId: string,
  memberId: string,
): Promise<Session> {
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.session(session.hash),
        UpdateExpression: 'SET account_id = :account, member_id = :member, switched_at = :now',
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: { ':account': accountId, ':member': memberId, ':now': nowIso() },
      }),
    );
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException')
      throw new UnauthorizedError('No session');
    throw error;
  }
  return { ...session, account_id: accountId, member_id: memberId };
}

export async function deleteSession(hash: string): Promise<void> {
  await ddb().send(new DeleteCommand({ TableName: config.tableName, Key: keys.session(hash) }));
}

export type SessionMember = { session: Session; member: MemberRecord };

/**
 * The session and its member as they are now (both read consistently), for a /v1 request authorised by the
 * cookie: 401 when the session is gone or expired, or its member was removed (a re-invited person is a new
 * member id, so an old session of theirs finds nothing either).
 */
export async function sessionMember(sessionId: string | undefined): Promise<SessionMember> {
  const session = await readSession(sessionId);
  if (!session) throw new UnauthorizedError('Missing, expired or ended session');
  if (!session.account_id || !session.member_id)
    throw new UnauthorizedError('This session has no account chosen');
  const member = await readMember(session.account_id, session.member_id);
  if (!member) throw new UnauthorizedError('This session’s member was removed from the account');
  return { session, member };
}
