// An account's notification settings (`GET/PUT /v1/notifications`): who is emailed, the low-balance alert
// threshold (independent of auto-refill's), and which families of billing events email. One small item per
// account, replaced whole by each PUT; an account that never set it has the defaults (nobody emailed yet,
// no low-balance alert, every family on once there are recipients).

import { GetCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { auditItem } from '../audit/trail.ts';
import type { Actor } from '../auth/caller.ts';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { transactWrite } from '../dynamo/transact.ts';
import { usd, usdAmount } from '../http/validation.ts';
import { type Micros, toWire } from '../money.ts';

export const MAX_RECIPIENTS = 10;

/** The families of billing events that email, each on or off. */
export const EVENT_FAMILIES = ['low_balance', 'auto_refill', 'spend_limit', 'invoices', 'receipts'] as const;
export type EventFamily = (typeof EVENT_FAMILIES)[number];

const recipients = z
  .array(z.email().check(z.maxLength(254)))
  .check(z.maxLength(MAX_RECIPIENTS, `at most ${MAX_RECIPIENTS} recipients`))
  .check(
    z.refine(
      (emails) => new Set(emails.map((email) => email.toLowerCase())).size === emails.length,
      'lists an address twice',
    ),
  );

const families = <T extends z.ZodMiniType>(flag: T) =>
  z.strictObject(
    Object.fromEntries(EVENT_FAMILIES.map((family) => [family, flag])) as Record<EventFamily, T>,
  );

/** The body of `PUT /v1/notifications`: the whole settings, replaced. */
export const notificationSettingsBody = z.strictObject({
  recipients,
  low_balance_threshold: z.nullable(
    usdAmount.check(z.refine((amount) => amount >= 0, 'must not be negative')),
  ),
  events: families(z.boolean()),
});

/** The settings on the wire. */
export const notificationSettingsSchema = z.object({
  recipients: z.array(z.string()),
  low_balance_threshold: z.nullable(usd),
  events: families(z.boolean()),
});

/** How the account's emails fare (`GET /v1/notifications` `status`; shared/notifications/send.ts). */
export const notificationStatusSchema = z.object({
  last_sent_at: z.nullable(z.string()),
  last_failure: z.nullable(
    z.object({
      at: z.string(),
      recipient: z.string(),
      event_type: z.string(),
      reason: z.string(),
      permanent: z.boolean(),
    }),
  ),
});

/** `GET /v1/notifications`: the settings and how their emails fare. */
export const notificationSettingsWithStatusSchema = z.object({
  ...notificationSettingsSchema.shape,
  status: notificationStatusSchema,
});

export type NotificationSettings = {
  recipients: string[];
  lowBalanceThreshold: Micros | null;
  events: Record<EventFamily, boolean>;
};

export const DEFAULT_SETTINGS: NotificationSettings = {
  recipients: [],
  lowBalanceThreshold: null,
  events: Object.fromEntries(EVENT_FAMILIES.map((family) => [family, true])) as Record<EventFamily, boolean>,
};

type SettingsItem = {
  recipients: string[];
  low_balance_threshold?: Micros;
  events: Record<EventFamily, boolean>;
};

export async function getNotificationSettings(accountId: string): Promise<NotificationSettings> {
  const result = await ddb().send(
    new GetCommand({
      TableName: config.tableName,
      Key: keys.notificationSettings(accountId),
      ConsistentRead: true,
    }),
  );
  const item = result.Item as SettingsItem | undefined;
  if (!item) return DEFAULT_SETTINGS;
  return {
    recipients: item.recipients,
    lowBalanceThreshold: item.low_balance_threshold ?? null,
    events: { ...DEFAULT_SETTINGS.events, ...item.events },
  };
}

/** Replaces the settings; with `actor`, in one transaction with the audit entry that says who did. */
export async function putNotificationSettings(
  accountId: string,
  settings: NotificationSettings,
  actor?: Actor,
): Promise<void> {
  const put = {
    TableName: config.tableName,
    Item: {
      ...keys.notificationSettings(accountId),
      kind: 'notification_settings',
      recipients: settings.recipients,
      ...(settings.lowBalanceThreshold === null
        ? {}
        : { low_balance_threshold: settings.lowBalanceThreshold }),
      events: settings.events,
      updated_at: nowIso(),
    },
  };
  const outcome = await transactWrite([
    { Put: put },
    ...(actor
      ? [auditItem(accountId, actor, 'notifications.changed', { details: settingsView(settings) })]
      : []),
  ]);
  if (!outcome.committed) {
    throw new Error(`notification settings not saved: ${outcome.reasons.map((r) => r.code).join(', ')}`);
  }
}

export function settingsView(settings: NotificationSettings): z.output<typeof notificationSettingsSchema> {
  return {
    recipients: settings.recipients,
    low_balance_threshold:
      settings.lowBalanceThreshold === null ? null : toWire(settings.lowBalanceThreshold),
    events: settings.events,
  };
}
