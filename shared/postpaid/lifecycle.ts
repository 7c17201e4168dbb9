// A postpaid invoice after it is finalized: its Stripe status on the period item (only ever moving to a
// higher rank, so an old or repeated event never overwrites a newer state), the account's list of unpaid
// invoices with the overdue block derived from it, and the billing events for payment, failure and overdue.
// Fed by the invoicing routine (right after finalizing) and by Stripe's invoice webhooks, which re-read the
// invoice and act on its current state.
import type Stripe from 'stripe';
import { nowMs } from '../clock.ts';
import { config, MissingConfigurationError, optional } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { failedCondition, type TransactItem, transactWrite } from '../dynamo/transact.ts';
import { type BillingEvent, billingEvent, updateWithEvents } from '../events/outbox.ts';
import { fromCents, toWire } from '../money.ts';
import { ignoreUnknown, refusedCurrency, reread } from '../payments/refusals.ts';
import { stripe } from '../payments/stripe-client.ts';
import { getAccountForInvoicing, type InvoiceStatus, STATUS_RANK } from './store.ts';

const DAY_MS = 86_400_000;

/**
 * POSTPAID_OVERDUE_BLOCK_GRACE_DAYS: when set, a postpaid account's metered calls are refused (402
 * `invoice_overdue`) from an unpaid invoice's due date plus this many days until it is paid or voided.
 * Unset (the default): unpaid invoices never block usage.
 */
export function overdueBlockGraceDays(): number | undefined {
  const text = optional('POSTPAID_OVERDUE_BLOCK_GRACE_DAYS');
  if (text === undefined) return undefined;
  const days = Number(text);
  if (!Number.isInteger(days) || days < 0) {
    throw new MissingConfigurationError(
      'POSTPAID_OVERDUE_BLOCK_GRACE_DAYS must be a whole number of days ≥ 0',
    );
  }
  return days;
}

/** Invoices that still block (while the setting is on): open, and uncollectible (the debt is still unpaid). */
function isUnpaid(status: InvoiceStatus): boolean {
  return status === 'open' || status === 'uncollectible';
}

function isoOfUnix(seconds: number | null | undefined): string | undefined {
  return seconds ? new Date(seconds * 1000).toISOString() : undefined;
}

export type InvoiceRef = { accountId: string; period: string };

/** The account and period our invoicing routine wrote into the invoice's metadata; undefined if not ours. */
export function invoiceRefOf(invoice: Stripe.Invoice): InvoiceRef | undefined {
  const accountId = invoice.metadata?.account_id;
  const period = invoice.metadata?.period;
  return accountId && period ? { accountId, period } : undefined;
}

/**
 * Writes the invoice's current Stripe state on its period item, unless a state of the same or a higher rank
 * is already there, with `events` recorded only if it does. True when it changed something.
 */
export async function recordInvoiceStatus(
  invoice: Stripe.Invoice,
  events: BillingEvent[] = [],
): Promise<boolean> {
  const ref = invoiceRefOf(invoice);
  const status = invoice.status as InvoiceStatus | null;
  if (!ref || !status || status === 'draft') return false;
  const due = isoOfUnix(invoice.due_date);
  const paidAt = isoOfUnix(invoice.status_transitions?.paid_at);
  const values: Record<string, unknown> = {
    ':id': invoice.id,
    ':status': status,
    ':rank': STATUS_RANK[status],
    ':total': invoice.total,
    ...(invoice.number ? { ':number': invoice.number } : {}),
    ...(due ? { ':due': due } : {}),
    ...(invoice.hosted_invoice_url ? { ':url': invoice.hosted_invoice_url } : {}),
    ...(paidAt ? { ':paidAt': paidAt } : {}),
  };
  const sets = [
    'stripe_invoice_id = :id',
    'invoice_status = :status',
    'status_rank = :rank',
    'invoice_total_cents = :total',
    ...(':number' in values ? ['invoice_number = :number'] : []),
    ...(':due' in values ? ['due_date = :due'] : []),
    ...(':url' in values ? ['hosted_invoice_url = :url'] : []),
    ...(':paidAt' in values ? ['paid_at = :paidAt'] : []),
  ];
  // An invoice recorded open for the first time was just issued: its event rides on the write that records it
  // (the rank only rises), so the finalizing routine and a `invoice.finalized` webhook announce it once.
  const issued =
    status === 'open'
      ? [billingEvent('credits.invoice.issued', ref.accountId, eventDetail(invoice, ref))]
      : [];
  const changed = await updateWithEvents(
    {
      Key: keys.period(ref.accountId, ref.period),
      UpdateExpression: `SET ${sets.join(', ')}`,
      // The id may arrive here before the routine stored it (it crashed right after creating the invoice).
      ConditionExpression:
        'attribute_exists(invoice_state) AND (stripe_invoice_id = :id OR attribute_not_exists(stripe_invoice_id)) AND (attribute_not_exists(status_rank) OR status_rank < :rank)',
      ExpressionAttributeValues: values,
    },
    [...issued, ...events],
  );
  await syncUnpaidInvoices(ref, invoice.id, status, due);
  return changed;
}

/**
 * Keeps the account's `open_invoices` (unpaid invoice id → due date) and `overdue_block_at` (the earliest
 * due date plus the grace, when the setting is on) in step with one invoice's status. Optimistic on the
 * account (`open_invoices_rev`); adding an invoice also checks, in the same transaction, that its period
 * item is not paid or voided meanwhile, so a late "still open" can never re-block a paid invoice.
 */
export async function syncUnpaidInvoices(
  ref: InvoiceRef,
  invoiceId: string,
  status: InvoiceStatus,
  due: string | undefined,
): Promise<void> {
  const grace = overdueBlockGraceDays();
  for (let attempt = 0; attempt < 8; attempt++) {
    const account = await getAccountForInvoicing(ref.accountId);
    if (!account) return;
    const before = account.open_invoices ?? {};
    const unpaid = { ...before };
    if (isUnpaid(status) && due) unpaid[invoiceId] = due;
    else delete unpaid[invoiceId];
    const earliest = Object.values(unpaid).sort()[0];
    const blockAt =
      grace === undefined || earliest === undefined
        ? undefined
        : new Date(Date.parse(earliest) + grace * DAY_MS).toISOString();
    if (JSON.stringify(unpaid) === JSON.stringify(before) && blockAt === account.overdue_block_at) return;
    const rev = account.open_invoices_rev ?? 0;
    const items: TransactItem[] = [
      {
        Update: {
          TableName: config.tableName,
          Key: keys.account(ref.accountId),
          UpdateExpression: `SET open_invoices = :unpaid, open_invoices_rev = :next ${
            blockAt ? ', overdue_block_at = :blockAt' : 'REMOVE overdue_block_at'
          }`,
          ConditionExpression:
            rev === 0
              ? 'attribute_exists(PK) AND (attribute_not_exists(open_invoices_rev) OR open_invoices_rev = :rev)'
              : 'open_invoices_rev = :rev',
          ExpressionAttributeValues: {
            ':unpaid': unpaid,
            ':next': rev + 1,
            ':rev': rev,
            ...(blockAt ? { ':blockAt': blockAt } : {}),
          },
        },
      },
    ];
    if (invoiceId in unpaid) {
      items.push({
        ConditionCheck: {
          TableName: config.tableName,
          Key: keys.period(ref.accountId, ref.period),
          ConditionExpression: 'stripe_invoice_id = :id AND status_rank < :settled',
          ExpressionAttributeValues: { ':id': invoiceId, ':settled': STATUS_RANK.paid },
        },
      });
    }
    const outcome = await transactWrite(items);
    if (outcome.committed) return;
    // Paid or voided meanwhile: that state's own sync takes the invoice off the list.
    if (failedCondition(outcome, 1)) return;
    if (!failedCondition(outcome, 0))
      throw new Error(`unpaid-invoice sync cancelled: ${JSON.stringify(outcome)}`);
  }
  throw new Error(`unpaid-invoice sync of ${ref.accountId} kept conflicting`);
}

function eventDetail(invoice: Stripe.Invoice, ref: InvoiceRef) {
  return {
    invoice_id: invoice.id,
    period: ref.period,
    amount: toWire(fromCents(invoice.total)),
    status: invoice.status,
    ...(invoice.due_date ? { due_date: isoOfUnix(invoice.due_date) } : {}),
    ...(invoice.hosted_invoice_url ? { hosted_invoice_url: invoice.hosted_invoice_url } : {}),
  };
}

/** Records a failed payment attempt once, with its event (Stripe events carry their own time: a repeat writes nothing). */
async function markPaymentFailed(
  ref: InvoiceRef,
  invoiceId: string,
  at: string,
  failed: BillingEvent,
): Promise<boolean> {
  return updateWithEvents(
    {
      Key: keys.period(ref.accountId, ref.period),
      UpdateExpression: 'SET last_payment_failed_at = :at',
      ConditionExpression:
        'stripe_invoice_id = :id AND (attribute_not_exists(last_payment_failed_at) OR last_payment_failed_at < :at)',
      ExpressionAttributeValues: { ':id': invoiceId, ':at': at },
    },
    [failed],
  );
}

export const invoiceEventTypes = [
  'invoice.finalized',
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.overdue',
  'invoice.voided',
  'invoice.marked_uncollectible',
] as const;

/**
 * One Stripe invoice event: re-read the invoice, record its current state, and publish our event once for
 * a payment, a failed payment (once per failure) or the invoice becoming overdue.
 */
export async function handleInvoiceEvent(
  invoiceId: string,
  event: Stripe.Event,
): Promise<'not_ours' | 'refused' | undefined> {
  const invoice = await reread('invoice', invoiceId, async () =>
    (await stripe()).invoices.retrieve(invoiceId),
  );
  if (!invoice) return 'not_ours';
  const ref = invoiceRefOf(invoice);
  if (!ref) return ignoreUnknown('invoice', invoiceId, 'not made by postpaid invoicing');
  // Postpaid usage is invoiced in USD: an invoice in another currency is not one of ours to record as paid.
  if (refusedCurrency('invoice', invoice, ref.accountId)) return 'refused';
  const announce = (
    type: 'credits.invoice.paid' | 'credits.invoice.payment_failed' | 'credits.invoice.overdue',
  ) => billingEvent(type, ref.accountId, eventDetail(invoice, ref));
  await recordInvoiceStatus(invoice, invoice.status === 'paid' ? [announce('credits.invoice.paid')] : []);
  if (event.type === 'invoice.payment_failed' && invoice.status === 'open') {
    const at = new Date(event.created * 1000).toISOString();
    await markPaymentFailed(ref, invoice.id, at, announce('credits.invoice.payment_failed'));
  }
  // Any event of an open invoice past its due date marks it overdue, so a lost `invoice.overdue` is healed.
  if (isOverdue(invoice)) {
    await markOverdue(ref, invoice.id, new Date(nowMs()).toISOString(), announce('credits.invoice.overdue'));
  }
  return undefined;
}

function isOverdue(invoice: Stripe.Invoice): boolean {
  return invoice.status === 'open' && invoice.due_date !== null && invoice.due_date * 1000 <= nowMs();
}

async function markOverdue(
  ref: InvoiceRef,
  invoiceId: string,
  at: string,
  overdue: BillingEvent,
): Promise<boolean> {
  return updateWithEvents(
    {
      Key: keys.period(ref.accountId, ref.period),
      UpdateExpression: 'SET overdue_at = :at',
      ConditionExpression:
        'stripe_invoice_id = :id AND attribute_not_exists(overdue_at) AND status_rank < :settled',
      ExpressionAttributeValues: { ':id': invoiceId, ':at': at, ':settled': STATUS_RANK.paid },
    },
    [overdue],
  );
}
