// Fan-out of invoicing work: one SQS message per account-period to the invoice worker in the cloud
// (INVOICE_QUEUE_URL), sent in batches of ten; in local mode the local stack's in-process queue, which runs
// the worker and hands back its reports, so a local run of the job can say what it did.
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsCalls, awsClientConfig } from '#infra/definitions/timeouts.ts';
import { config, required } from '../config.ts';
import { type InvoiceRunReport, invoicePeriod } from './invoicing.ts';

export type InvoiceWork = { account_id: string; period: string };

/** Installed by the local stack (and tests): runs the worker on a batch, answers its reports. */
export type LocalInvoiceQueue = {
  __localInvoiceQueue?: (batch: InvoiceWork[]) => Promise<InvoiceRunReport[]>;
};

export const SQS_BATCH = 10;

let sqs: SQSClient | undefined;

/** Queues one batch (at most ten); in local mode resolves with the worker's reports once it ran. */
export async function enqueueInvoiceWork(batch: InvoiceWork[]): Promise<InvoiceRunReport[] | undefined> {
  if (batch.length === 0) return [];
  if (batch.length > SQS_BATCH) throw new Error(`a batch holds at most ${SQS_BATCH} messages`);
  if (config.localMode) {
    const local = (globalThis as LocalInvoiceQueue).__localInvoiceQueue;
    // No local queue installed (a bare test process): run the work here, one after another.
    if (!local) {
      const reports: InvoiceRunReport[] = [];
      for (const work of batch) reports.push(await invoicePeriod(work.account_id, work.period));
      return reports;
    }
    return local(batch);
  }
  sqs ??= new SQSClient(awsClientConfig(awsCalls.sqs));
  let entries = batch.map((work, i) => ({ Id: String(i), MessageBody: JSON.stringify(work) }));
  for (let attempt = 0; entries.length > 0; attempt++) {
    const result = await sqs.send(
      new SendMessageBatchCommand({ QueueUrl: required('INVOICE_QUEUE_URL'), Entries: entries }),
    );
    const failed = new Set((result.Failed ?? []).map((failure) => failure.Id));
    entries = entries.filter((entry) => failed.has(entry.Id));
    // Not queued now: the period stays in the due index, so the next run of the job queues it again.
    if (entries.length > 0 && attempt >= 2) {
      throw new Error(
        `${entries.length} invoice messages could not be queued: ${JSON.stringify(result.Failed)}`,
      );
    }
  }
  return undefined;
}
