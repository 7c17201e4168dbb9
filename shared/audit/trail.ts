// The audit trail of billing changes: who (a member, a token, the operator) changed what, and when. An entry
// is written in the same transaction as the change it records (`auditItem`, one more TransactWrite item), so
// it exists exactly when the change does: a refused change (409, 400) leaves none, and an Idempotency-Key
// replay, answered from the idempotency store without running the change, writes none. Only people's and
// the operator's changes are recorded, never the system's own (auto-refill charges, sweeps). Entries never
// hold a secret: token secrets and webhook signing secrets are not passed in, and `details` is built by the
// caller from the change's public fields only.
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import type { Actor } from '../auth/caller.ts';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import type { TransactItem } from '../dynamo/transact.ts';
import { invalidCursor, openCursor, signCursor } from '../http/cursor.ts';
import { isoTime } from '../http/validation.ts';
import { isUlid, newUlid } from '../ids.ts';

export const AUDIT_ACTIONS = [
  'purchase.started',
  'auto_refill.changed',
  'spend_limit.set',
  'spend_limit.cleared',
  'token.created',
  'token.changed',
  'token.revoked',
  'notifications.changed',
  'webhook_endpoint.created',
  'webhook_endpoint.enabled',
  'webhook_endpoint.deleted',
  'member.invited',
  'member.role_changed',
  'member.removed',
  'billing_mode.changed',
  'credits.granted',
  'credits.corrected',
  'balance_shards.changed',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** What changed, in the change's public terms (amounts in USD as on the wire, ids, names, before → after). */
export type AuditDetails = Record<string, unknown>;

export const AUDIT_ID_PREFIX = 'aud_';
export const AUDIT_PAGE_DEFAULT = 25;

type AuditItem = {
  entry_id: string;
  account_id: string;
  at: string;
  actor: Actor;
  action: AuditAction;
  target?: string;
  details?: AuditDetails;
};

/** JSON values only: DynamoDB refuses `undefined`, and a field that was not sent is simply absent. */
function defined(details: AuditDetails): AuditDetails {
  return JSON.parse(JSON.stringify(details)) as AuditDetails;
}

function auditRecord(
  accountId: string,
  actor: Actor,
  action: AuditAction,
  options: { target?: string; details?: AuditDetails },
): AuditItem {
  const entryId = AUDIT_ID_PREFIX + newUlid();
  return {
    entry_id: entryId,
    account_id: accountId,
    at: nowIso(),
    actor,
    action,
    ...(options.target ? { target: options.target } : {}),
    ...(options.details ? { details: defined(options.details) } : {}),
  };
}

function put(record: AuditItem) {
  return {
    TableName: config.tableName,
    Item: { ...keys.auditEntry(record.account_id, record.entry_id), kind: 'audit', ...record },
    // A fresh ULID never exists: the condition only keeps a retried transaction from writing it twice.
    ConditionExpression: 'attribute_not_exists(PK)',
  };
}

/** The audit entry of a change, as one more item of the change's own transaction. */
export function auditItem(
  accountId: string,
  actor: Actor,
  action: AuditAction,
  options: { target?: string; details?: AuditDetails } = {},
): TransactItem {
  return { Put: put(auditRecord(accountId, actor, action, options)) };
}

/** The audit entry of a change that is not one transaction (it is written after the change succeeded). */
export async function recordAudit(
  accountId: string,
  actor: Actor,
  action: AuditAction,
  options: { target?: string; details?: AuditDetails } = {},
): Promise<void> {
  await ddb().send(new PutCommand(put(auditRecord(accountId, actor, action, options))));
}

/**
 * The members store's `also` hook for invitations, role changes and removals: the entry names the member
 * (its id as the target, its email and role after the change), in the member's own transaction.
 */
export function memberAudit(
  accountId: string,
  actor: Actor,
  action: 'member.invited' | 'member.role_changed' | 'member.removed',
): (member: { member_id: string; email: string; role: string }) => TransactItem[] {
  return (member) => [
    auditItem(accountId, actor, action, {
      target: member.member_id,
      details: { email: member.email, role: member.role },
    }),
  ];
}

/** The operator, for the audit entries of /admin routes (IAM decides who may call them). */
export const OPERATOR: Actor = { type: 'operator' };

const actorSchema = z.union([
  z.object({ type: z.literal('member'), id: z.string(), email: z.string() }),
  z.object({ type: z.literal('token'), id: z.string() }),
  z.object({ type: z.literal('operator') }),
  z.object({ type: z.literal('system') }),
]);

export const auditEntrySchema = z.object({
  id: z.string().check(z.describe('aud_<ULID>: sorts by time')),
  at: isoTime,
  actor: actorSchema.check(
    z.describe('Who made the change: a member (signed in by email), an API token, or the operator'),
  ),
  action: z.enum(AUDIT_ACTIONS),
  target: z.optional(z.string().check(z.describe('The id of what was changed (token, endpoint, purchase…)'))),
  details: z.optional(
    z
      .record(z.string(), z.unknown())
      .check(
        z.describe('What changed: amounts in USD, names, scopes, limits, before and after; never secrets'),
      ),
  ),
});

export const auditPageSchema = z.object({
  data: z.array(auditEntrySchema),
  next_cursor: z.nullable(z.string()),
});

type AuditEntryView = z.output<typeof auditEntrySchema>;

function view(item: Record<string, unknown>): AuditEntryView {
  const record = item as unknown as AuditItem;
  return {
    id: record.entry_id,
    at: record.at,
    actor: record.actor,
    action: record.action,
    ...(record.target ? { target: record.target } : {}),
    ...(record.details ? { details: record.details } : {}),
  };
}

type Cursor = { before: string };

async function openAuditCursor(accountId: string, text: string): Promise<string> {
  const value = (await openCursor(accountId, text)) as Partial<Cursor> | null;
  const before = value?.before;
  if (typeof before === 'string' && before.startsWith(AUDIT_ID_PREFIX) && isUlid(before.slice(4))) {
    return before;
  }
  throw invalidCursor();
}

/** `GET /v1/audit`: the account's entries, newest first, `limit` a page, continued by `next_cursor`. */
export async function listAudit(
  accountId: string,
  options: { limit: number; cursor?: string | undefined },
): Promise<z.output<typeof auditPageSchema>> {
  const before = options.cursor ? await openAuditCursor(accountId, options.cursor) : undefined;
  const { PK } = keys.account(accountId);
  const page = await ddb().send(
    new QueryCommand({
      TableName: config.tableName,
      KeyConditionExpression: before
        ? 'PK = :pk AND SK BETWEEN :prefix AND :before'
        : 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: {
        ':pk': PK,
        ':prefix': keys.auditPrefix,
        ...(before ? { ':before': keys.auditEntry(accountId, before).SK } : {}),
      },
      ScanIndexForward: false,
      // One more than the page, to know whether another follows without an empty last page.
      Limit: options.limit + 1 + (before ? 1 : 0),
      ConsistentRead: true,
    }),
  );
  const items = (page.Items ?? []).filter((item) => item.entry_id !== before);
  const data = items.slice(0, options.limit).map(view);
  const last = data.at(-1);
  const next_cursor =
    items.length > options.limit && last
      ? await signCursor(accountId, { before: last.id } satisfies Cursor)
      : null;
  return { data, next_cursor };
}
