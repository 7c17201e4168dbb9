// A stand-in for Amazon SES v2 on this machine, spoken to by the real `@aws-sdk/client-sesv2` over HTTP: it
// records every SendEmail and answers with what the test queued (an error SES documents, by its wire shape:
// status and `x-amzn-ErrorType`), else success with a fresh MessageId. No AWS is reachable from tests.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SESv2Client } from '@aws-sdk/client-sesv2';

export type SentEmail = {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  configurationSet?: string;
  tags: Record<string, string>;
};

/** An error answer as SES sends it, e.g. `{ status: 429, type: 'TooManyRequestsException' }`. */
export type SesFault = { status: number; type: string; message?: string };

export type FakeSes = {
  client: SESv2Client;
  sent: SentEmail[];
  /** Answers the next SendEmail calls with these faults, in order. */
  fail(...faults: SesFault[]): void;
  stop(): Promise<void>;
};

type SendEmailBody = {
  FromEmailAddress: string;
  Destination: { ToAddresses: string[] };
  Content: {
    Simple: { Subject: { Data: string }; Body: { Text: { Data: string }; Html: { Data: string } } };
  };
  ConfigurationSetName?: string;
  EmailTags?: { Name: string; Value: string }[];
};

export async function startFakeSes(): Promise<FakeSes> {
  const sent: SentEmail[] = [];
  const faults: SesFault[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v2/email/outbound-emails') {
        response
          .writeHead(404, { 'x-amzn-ErrorType': 'NotFoundException' })
          .end('{"message":"no such route"}');
        return;
      }
      const fault = faults.shift();
      if (fault) {
        response
          .writeHead(fault.status, { 'content-type': 'application/json', 'x-amzn-ErrorType': fault.type })
          .end(JSON.stringify({ message: fault.message ?? fault.type }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as SendEmailBody;
      sent.push({
        from: body.FromEmailAddress,
        to: body.Destination.ToAddresses,
        subject: body.Content.Simple.Subject.Data,
        text: body.Content.Simple.Body.Text.Data,
        html: body.Content.Simple.Body.Html.Data,
        ...(body.ConfigurationSetName ? { configurationSet: body.ConfigurationSetName } : {}),
        tags: Object.fromEntries((body.EmailTags ?? []).map((tag) => [tag.Name, tag.Value])),
      });
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ MessageId: `ses-${randomUUID()}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new SESv2Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    // One attempt: the tests decide what a retry is.
    maxAttempts: 1,
  });
  return {
    client,
    sent,
    fail: (...given) => faults.push(...given),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
