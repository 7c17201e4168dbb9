// What SES learns after it accepted an email: a bounce or a complaint arrives later, through the
// configuration set's event destination (the default event bus, `source: aws.ses`). The email's tags name the
// account and the billing event (shared/notifications/mailer.ts), so the account's notification status shows
// the address that bounced; the configuration set's suppression list then keeps SES from sending to it again,
// which the status also shows, until the customer fixes the address in the settings.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod/mini';
import { logger, metrics } from '../observability/powertools.ts';
import { recordEmailFailure } from './send.ts';

const recipient = z.looseObject({ emailAddress: z.string(), diagnosticCode: z.optional(z.string()) });

/** The part of an SES event record this reads (the SES developer guide, "event data" contents). */
const sesEventRecord = z.looseObject({
  eventType: z.string(),
  mail: z.looseObject({
    timestamp: z.optional(z.string()),
    destination: z.optional(z.array(z.string())),
    tags: z.optional(z.record(z.string(), z.array(z.string()))),
  }),
  bounce: z.optional(
    z.looseObject({
      bounceType: z.string(),
      bounceSubType: z.optional(z.string()),
      bouncedRecipients: z.array(recipient),
      timestamp: z.optional(z.string()),
    }),
  ),
  complaint: z.optional(
    z.looseObject({
      complainedRecipients: z.array(recipient),
      complaintFeedbackType: z.optional(z.string()),
      timestamp: z.optional(z.string()),
    }),
  ),
});

export type FeedbackOutcome = 'recorded' | 'ignored';

/** One SES event (the EventBridge detail): a bounce or complaint of one of our emails is recorded. */
export async function recordSesFeedback(detail: unknown): Promise<FeedbackOutcome> {
  const parsed = sesEventRecord.safeParse(detail);
  if (!parsed.success) {
    logger.warn('SES event not understood; ignored', { error: parsed.error.message });
    return 'ignored';
  }
  const record = parsed.data;
  const accountId = record.mail.tags?.account?.[0];
  // Tags carry the event type with `_` for `.` (SES tag values take letters, digits, `_` and `-`).
  const eventType = record.mail.tags?.event?.[0]?.replace(/^credits_/, 'credits.').replaceAll('_', '.');
  if (!accountId) return 'ignored';
  const failures: { recipient: string; reason: string; permanent: boolean; at?: string }[] = [];
  if (record.eventType === 'Bounce' && record.bounce) {
    const permanent = record.bounce.bounceType === 'Permanent';
    for (const bounced of record.bounce.bouncedRecipients) {
      failures.push({
        recipient: bounced.emailAddress,
        reason: `bounced (${record.bounce.bounceType}${record.bounce.bounceSubType ? `, ${record.bounce.bounceSubType}` : ''})${bounced.diagnosticCode ? `: ${bounced.diagnosticCode}` : ''}`,
        permanent,
        ...(record.bounce.timestamp ? { at: record.bounce.timestamp } : {}),
      });
    }
  } else if (record.eventType === 'Complaint' && record.complaint) {
    for (const complained of record.complaint.complainedRecipients) {
      failures.push({
        recipient: complained.emailAddress,
        reason: 'the recipient marked the email as spam; SES will not send to this address again',
        permanent: true,
        ...(record.complaint.timestamp ? { at: record.complaint.timestamp } : {}),
      });
    }
  } else {
    return 'ignored';
  }
  for (const failure of failures) {
    await recordEmailFailure(accountId, { ...failure, event_type: eventType ?? 'unknown' });
  }
  metrics.addMetric(
    record.eventType === 'Bounce' ? 'NotificationEmailBounced' : 'NotificationEmailComplaint',
    MetricUnit.Count,
    failures.length,
  );
  return 'recorded';
}
