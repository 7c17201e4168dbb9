// Postpaid invoicing fixtures: postpaid accounts, usage written to period items exactly as the rollup
// consumer writes it (the contract with the ledger's rollups), and the invoice queue run in-process through
// the real worker handler with bounded concurrency, as the SQS event source runs it in the cloud.

import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createAccount } from '#shared/accounts/service.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import type { InvoiceRunReport } from '#shared/postpaid/invoicing.ts';
import type { InvoiceWork, LocalInvoiceQueue } from '#shared/postpaid/queue.ts';
import { periodRollupUpdate } from '#shared/postpaid/store.ts';
import { handler as invoiceWorker } from '../../functions/workers/invoice.ts';
import { workPool } from '../../local/work-pool.ts';

const table = () => process.env.TABLE_NAME!;

/** An account switched to postpaid the way the operator route stores it. */
export async function postpaidAccount(options: { termsDays?: number; name?: string } = {}) {
  const { account, token } = await createAccount({ name: options.name ?? 'Postpaid team' });
  await ddb().send(
    new UpdateCommand({
      TableName: table(),
      Key: keys.account(account.account_id),
      UpdateExpression: 'SET billing_mode = :postpaid, payment_terms_days = :terms',
      ExpressionAttributeValues: { ':postpaid': 'postpaid', ':terms': options.termsDays ?? 30 },
    }),
  );
  return { accountId: account.account_id, token };
}

/** One charge's share of the period item: the very update the rollup consumer makes for its entry. */
export async function accrue(
  accountId: string,
  period: string,
  feature: string,
  cost: number,
  quantity = 1,
): Promise<void> {
  const { Update } = periodRollupUpdate(accountId, period, {
    cost,
    requests: 1,
    entries: 1,
    features: new Map([[feature, { cost, quantity, requests: 1 }]]),
  });
  await ddb().send(new UpdateCommand(Update!));
}

export type InvoiceQueueStats = { invocations: number; messages: number; maxConcurrent: number };

/** Runs the invoice queue's batches through the real worker handler, `concurrency` at a time. */
export function installInvoiceQueue(concurrency = 5): { stats: InvoiceQueueStats; uninstall(): void } {
  const hook = globalThis as LocalInvoiceQueue;
  const previous = hook.__localInvoiceQueue;
  const stats: InvoiceQueueStats = { invocations: 0, messages: 0, maxConcurrent: 0 };
  let running = 0;
  hook.__localInvoiceQueue = workPool(async (batch: InvoiceWork[]): Promise<InvoiceRunReport[]> => {
    stats.invocations++;
    stats.messages += batch.length;
    running++;
    stats.maxConcurrent = Math.max(stats.maxConcurrent, running);
    try {
      const Records = batch.map((work, i) => ({
        messageId: `m${stats.messages}-${i}`,
        body: JSON.stringify(work),
      }));
      const result = await invoiceWorker({ Records } as never);
      return result.reports;
    } finally {
      running--;
    }
  }, concurrency);
  return {
    stats,
    uninstall: () => {
      hook.__localInvoiceQueue = previous;
    },
  };
}
