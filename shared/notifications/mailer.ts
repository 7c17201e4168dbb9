// The one place an email leaves the system: Amazon SES v2 in the cloud (the sender identity and configuration
// set come from the stack's configuration, NOTIFY_FROM and SES_CONFIGURATION_SET), the local mail catcher in
// local mode (`GET /__local/mail`, newest first, the last LOCAL_MAIL_KEPT). Whether a send may be tried again
// is decided here, from SES's own error names: the caller (shared/notifications/send.ts) keeps the claim that
// makes each email go out once.
import {
  SESv2Client,
  SESv2ServiceException,
  SendEmailCommand,
  type SendEmailCommandOutput,
} from '@aws-sdk/client-sesv2';
import { awsCalls, awsClientConfig } from '#infra/definitions/timeouts.ts';
import { nowIso } from '../clock.ts';
import { config, MissingConfigurationError, optional } from '../config.ts';
import { newUlid } from '../ids.ts';
import type { EmailMessage } from './templates.ts';

export type OutgoingEmail = EmailMessage & {
  to: string;
  /** The billing event it tells of, or another cause (`webhook_endpoint.disabled`...). */
  event: string;
  /** SES message tags: the account and event, so bounces and complaints can be traced back. */
  accountId: string;
  eventId: string;
};

/** A caught email, as `GET /__local/mail` lists it. */
export type CaughtEmail = {
  id: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  event: string;
  event_id: string;
  account_id: string;
  sent_at: string;
};

export const LOCAL_MAIL_KEPT = 500;

type LocalMailbox = { __localMail?: CaughtEmail[] };

/** The mail catcher's contents, newest first. */
export function caughtMail(): CaughtEmail[] {
  return (globalThis as LocalMailbox).__localMail ?? [];
}

export function clearCaughtMail(): void {
  (globalThis as LocalMailbox).__localMail = [];
}

/** SES refused the message for good (a bad address, a sender not verified...): sending it again cannot help. */
export class PermanentSendError extends Error {
  override name = 'PermanentSendError';
}

/**
 * Errors SES answers for a message it will never take, by the SendEmail API reference's error names. Anything
 * else (throttling, limits, 5xx, time-outs, network) is worth another try later.
 */
const PERMANENT = new Set([
  'MessageRejected',
  'MailFromDomainNotVerifiedException',
  'NotFoundException',
  'BadRequestException',
  'AccountSuspendedException',
  'SendingPausedException',
]);

let client: SESv2Client | undefined;
let clientGiven = false;

/** Tests swap in a client (fault injection, capture); it is then used in local mode as well. */
export function setSesClient(given: SESv2Client | undefined): void {
  client = given;
  clientGiven = given !== undefined;
}

/** Sends one email; answers the provider's message id. Throws PermanentSendError or a retryable error. */
export async function sendEmail(email: OutgoingEmail): Promise<string> {
  if (config.localMode && !clientGiven) return catchLocally(email);
  const from = optional('NOTIFY_FROM');
  if (!from) throw new MissingConfigurationError('NOTIFY_FROM is not set: no sender for notification emails');
  client ??= new SESv2Client(awsClientConfig(awsCalls.ses));
  let result: SendEmailCommandOutput;
  try {
    result = await client.send(
      new SendEmailCommand({
        FromEmailAddress: from,
        Destination: { ToAddresses: [email.to] },
        Content: {
          Simple: {
            Subject: { Data: email.subject, Charset: 'UTF-8' },
            Body: {
              Text: { Data: email.text, Charset: 'UTF-8' },
              Html: { Data: email.html, Charset: 'UTF-8' },
            },
          },
        },
        ConfigurationSetName: optional('SES_CONFIGURATION_SET'),
        EmailTags: [
          { Name: 'account', Value: tagValue(email.accountId) },
          { Name: 'event', Value: tagValue(email.event) },
        ],
      }),
    );
  } catch (error) {
    if (error instanceof SESv2ServiceException && PERMANENT.has(error.name)) {
      throw new PermanentSendError(`${error.name}: ${error.message}`);
    }
    throw error;
  }
  return result.MessageId ?? 'unknown';
}

/** SES tag values take ASCII letters, digits, `_` and `-` only. */
function tagValue(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 256) || '_';
}

function catchLocally(email: OutgoingEmail): string {
  const mailbox = globalThis as LocalMailbox;
  const caught: CaughtEmail = {
    id: `mail_${newUlid()}`,
    to: [email.to],
    subject: email.subject,
    text: email.text,
    html: email.html,
    event: email.event,
    event_id: email.eventId,
    account_id: email.accountId,
    sent_at: nowIso(),
  };
  mailbox.__localMail = [caught, ...(mailbox.__localMail ?? [])].slice(0, LOCAL_MAIL_KEPT);
  return caught.id;
}
