// Sending an event's email to each recipient once. A billing event reaches the notification worker at least
// once (the outbox, the bus, the queue), so each (event, recipient) has a claim item: the first delivery takes
// it (`sending`), sends, and marks it `sent`; a duplicate finds it taken and sends nothing.
//
// - A delivery that finds a fresh `sending` claim (another invocation is sending right now, or one crashed
//   mid-send) is retried later by the queue, not skipped: after SENDING_LEASE_MS the claim is taken over and
//   the email sent, so nothing committed is left unsent. The one case that can send twice is an invocation
//   that dies after SES took the message and before it marked the claim `sent`; SES has no idempotency key, so
//   "at most once" and "never lost" cannot both hold there, and this chooses never lost.
// - SES throttling, time-outs and 5xx release the claim (`retry`) and fail the delivery, which the queue
//   redelivers with its backoff; a refusal SES will repeat (a rejected address, an unverified sender) marks the
//   claim `failed` and is not retried. Both are recorded on the account's notification status, which
//   `GET /v1/notifications` shows, with metrics for the operator (NotificationEmailFailed).
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { isConditionFailure } from '../dynamo/transact.ts';
import type { BillingEvent } from '../events/outbox.ts';
import { logger, metrics } from '../observability/powertools.ts';
import { brand, emailOfEvent } from './emails.ts';
import { PermanentSendError, sendEmail } from './mailer.ts';
import { getNotificationSettings } from './settings.ts';

/** A `sending` claim younger than this belongs to a live send; an older one is taken over. */
export const SENDING_LEASE_MS = 5 * 60_000;
/** Claims outlive every redelivery of their event (the queue keeps a message 4 days, the outbox 7). */
export const CLAIM_TTL_SECONDS = 30 * 86_400;

/** Another delivery holds the claim: this one is redelivered later by the queue. */
export class EmailInProgressError extends Error {
  override name = 'EmailInProgressError';
}

export type EmailOutcome = 'sent' | 'duplicate' | 'failed';

export type EventEmailReport = { event_id: string; outcomes: Record<string, EmailOutcome> };

/**
 * Sends the email `event` makes to every recipient of the account who wants its family, each once. Throws
 * when any recipient's send must be tried again (the others keep their claims, so a retry sends only those).
 */
export async function sendEventEmails(event: BillingEvent): Promise<EventEmailReport> {
  const report: EventEmailReport = { event_id: event.event_id, outcomes: {} };
  const settings = await getNotificationSettings(event.account_id);
  if (settings.recipients.length === 0) return report;
  const email = await emailOfEvent(event, await brand());
  if (!email || (email.family !== null && !settings.events[email.family])) return report;
  let retry: unknown;
  for (const recipient of settings.recipients) {
    try {
      report.outcomes[recipient] = await sendOnce(event, recipient, email.message);
    } catch (error) {
      retry ??= error;
    }
  }
  if (retry) throw retry;
  return report;
}

async function sendOnce(
  event: BillingEvent,
  recipient: string,
  message: { subject: string; text: string; html: string },
): Promise<EmailOutcome> {
  const key = keys.emailClaim(event.event_id, recipient);
  const claimed = await claim(key, event);
  if (claimed === 'done') return 'duplicate';
  let messageId: string;
  try {
    messageId = await sendEmail({
      ...message,
      to: recipient,
      event: event.type,
      eventId: event.event_id,
      accountId: event.account_id,
    });
  } catch (error) {
    const permanent = error instanceof PermanentSendError;
    const reason = error instanceof Error ? error.message : String(error);
    await settle(key, permanent ? 'failed' : 'retry', { reason });
    await recordFailure(event, recipient, reason, permanent);
    metrics.addMetric('NotificationEmailFailed', MetricUnit.Count, 1);
    logger.warn('notification email not sent', { eventId: event.event_id, permanent, error });
    if (permanent) return 'failed';
    throw error;
  }
  await settle(key, 'sent', { message_id: messageId });
  await recordSent(event);
  metrics.addMetric('NotificationEmailSent', MetricUnit.Count, 1);
  return 'sent';
}

type ClaimKey = ReturnType<typeof keys.emailClaim>;

/** Takes the claim; 'done' when it was sent or refused for good. Throws while another send holds it. */
async function claim(key: ClaimKey, event: BillingEvent): Promise<'claimed' | 'done'> {
  const now = nowMs();
  try {
    await ddb().send(
      new PutCommand({
        TableName: config.tableName,
        Item: {
          ...key,
          kind: 'email_claim',
          status: 'sending',
          account_id: event.account_id,
          event_type: event.type,
          claimed_at: now,
          expires_at: Math.floor(now / 1000) + CLAIM_TTL_SECONDS,
        },
        ConditionExpression:
          'attribute_not_exists(PK) OR #status = :retry OR (#status = :sending AND claimed_at < :stale)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':retry': 'retry',
          ':sending': 'sending',
          ':stale': now - SENDING_LEASE_MS,
        },
      }),
    );
    return 'claimed';
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  const held = await ddb().send(
    new GetCommand({ TableName: config.tableName, Key: key, ConsistentRead: true }),
  );
  const status = held.Item?.status as string | undefined;
  if (status === 'sent' || status === 'failed') return 'done';
  throw new EmailInProgressError(`the email of ${event.event_id} is being sent by another delivery`);
}

async function settle(
  key: ClaimKey,
  status: 'sent' | 'failed' | 'retry',
  detail: Record<string, string>,
): Promise<void> {
  const names = Object.keys(detail);
  await ddb().send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: key,
      UpdateExpression: `SET #status = :status, settled_at = :at${names.map((name) => `, ${name} = :${name}`).join('')}`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':status': status,
        ':at': nowIso(),
        ...Object.fromEntries(names.map((name) => [`:${name}`, detail[name]])),
      },
    }),
  );
}

/** The account's notification status as `GET /v1/notifications` shows it. */
export type NotificationStatus = {
  last_sent_at: string | null;
  last_failure: {
    at: string;
    recipient: string;
    event_type: string;
    reason: string;
    /** True when SES refused for good (nothing retried); false while the queue keeps trying. */
    permanent: boolean;
  } | null;
};

async function recordSent(event: BillingEvent): Promise<void> {
  await ddb().send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: keys.notificationStatus(event.account_id),
      UpdateExpression: 'SET last_sent_at = :at, kind = :kind',
      ExpressionAttributeValues: { ':at': nowIso(), ':kind': 'notification_status' },
    }),
  );
}

async function recordFailure(
  event: BillingEvent,
  recipient: string,
  reason: string,
  permanent: boolean,
): Promise<void> {
  await recordEmailFailure(event.account_id, { recipient, event_type: event.type, reason, permanent });
}

/** Records the account's latest email failure: a send that failed here, or SES's later bounce or complaint. */
export async function recordEmailFailure(
  accountId: string,
  failure: { recipient: string; event_type: string; reason: string; permanent: boolean; at?: string },
): Promise<void> {
  await ddb().send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: keys.notificationStatus(accountId),
      UpdateExpression: 'SET last_failure = :failure, kind = :kind',
      ExpressionAttributeValues: {
        ':failure': {
          at: failure.at ?? nowIso(),
          recipient: failure.recipient,
          event_type: failure.event_type,
          reason: failure.reason.slice(0, 500),
          permanent: failure.permanent,
        },
        ':kind': 'notification_status',
      },
    }),
  );
}

export async function getNotificationStatus(accountId: string): Promise<NotificationStatus> {
  const result = await ddb().send(
    new GetCommand({ TableName: config.tableName, Key: keys.notificationStatus(accountId) }),
  );
  return {
    last_sent_at: (result.Item?.last_sent_at as string | undefined) ?? null,
    last_failure: (result.Item?.last_failure as NotificationStatus['last_failure']) ?? null,
  };
}
