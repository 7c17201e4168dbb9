// Which email a billing event makes, and for which family of the account's settings: the event's facts go
// into the template (shared/notifications/templates.ts); the few facts an event does not carry (a token's
// name and limit, the account's spend limit) are read when the email is made. Events no one is emailed about
// (depleted, grants, corrections, refunds, paid invoices, auto-refill's own low-balance notice) make none:
// their webhooks and the bus carry them.
import { getAccount } from '../accounts/repository.ts';
import { optional } from '../config.ts';
import type { BillingEvent } from '../events/outbox.ts';
import { fromDecimalString, fromWire, type Micros } from '../money.ts';
import { dashboardUrl } from '../payments/dashboard-url.ts';
import { getAccountToken } from '../tokens/repository.ts';
import type { EventFamily } from './settings.ts';
import {
  autoRefillFailedEmail,
  autoRefillSucceededEmail,
  autoRefillSuspendedEmail,
  type Brand,
  type EmailMessage,
  invoiceIssuedEmail,
  invoiceOverdueEmail,
  invoicePaymentFailedEmail,
  lowBalanceEmail,
  purchaseReceiptEmail,
  spendLimitReachedEmail,
  spendLimitWarningEmail,
  tokenLimitReachedEmail,
  webhookEndpointDisabledEmail,
} from './templates.ts';

/** `family` null: always sent to the recipients (it is about the notifications themselves). */
export type EventEmail = { family: EventFamily | null; message: EmailMessage };

export const DEFAULT_PRODUCT_NAME = 'API credits';

/** The operator's product name (PRODUCT_NAME) and the dashboard's URL, as the emails link it. */
export async function brand(): Promise<Brand> {
  const dashboard = (await dashboardUrl()) ?? optional('PUBLIC_BASE_URL') ?? '';
  return {
    productName: optional('PRODUCT_NAME') ?? DEFAULT_PRODUCT_NAME,
    dashboardUrl: dashboard.replace(/\/+$/, ''),
  };
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;
/** Events carry amounts as wire numbers (toWire); a malformed one makes no email rather than a wrong one. */
function money(value: unknown): Micros | undefined {
  if (typeof value === 'number') return fromWire(value);
  if (typeof value === 'string') return fromDecimalString(value);
  return undefined;
}

/** "Visa •••• 4242" from the `{type, brand, last4}` an auto-refill event carries, else the type. */
function methodText(value: unknown): string | undefined {
  if (typeof value === 'string') return text(value);
  if (!value || typeof value !== 'object') return undefined;
  const method = value as { type?: string; brand?: string; last4?: string };
  if (method.brand && method.last4) {
    return `${method.brand.charAt(0).toUpperCase()}${method.brand.slice(1)} •••• ${method.last4}`;
  }
  return text(method.type);
}

/** The email `event` makes, or undefined when it makes none. */
export async function emailOfEvent(event: BillingEvent, look: Brand): Promise<EventEmail | undefined> {
  const accountId = event.account_id;
  switch (event.type) {
    case 'credits.balance.low': {
      // Auto-refill's own notice of its threshold is for the bus and webhooks; the email is the alert's.
      if (event.source !== 'alert_threshold') return undefined;
      const balance = money(event.available);
      const threshold = money(event.threshold);
      if (balance === undefined || threshold === undefined) return undefined;
      return { family: 'low_balance', message: lowBalanceEmail(look, { accountId, balance, threshold }) };
    }
    case 'credits.auto_refill.succeeded': {
      const amount = money(event.amount);
      if (amount === undefined) return undefined;
      const paymentMethod = methodText(event.payment_method);
      return {
        family: 'auto_refill',
        message: autoRefillSucceededEmail(look, {
          accountId,
          amount,
          ...(paymentMethod ? { paymentMethod } : {}),
        }),
      };
    }
    case 'credits.auto_refill.failed': {
      const amount = money(event.amount);
      if (amount === undefined) return undefined;
      const topUpUrl = text(event.top_up_url);
      return {
        family: 'auto_refill',
        message: autoRefillFailedEmail(look, {
          accountId,
          amount,
          reason: text(event.reason) ?? 'the payment was declined',
          ...(topUpUrl ? { topUpUrl } : {}),
        }),
      };
    }
    case 'credits.auto_refill.suspended': {
      const topUpUrl = text(event.top_up_url);
      return {
        family: 'auto_refill',
        message: autoRefillSuspendedEmail(look, {
          accountId,
          reason: text(event.reason) ?? 'auto-refill could not charge your payment method',
          ...(topUpUrl ? { topUpUrl } : {}),
        }),
      };
    }
    case 'credits.spend_limit.warning': {
      const usage = money(event.period_usage);
      const limit = money(event.monthly_spend_limit);
      const period = text(event.period);
      if (usage === undefined || limit === undefined || !period) return undefined;
      const percent = typeof event.percent === 'number' ? event.percent : 80;
      return {
        family: 'spend_limit',
        message: spendLimitWarningEmail(look, { accountId, period, usage, limit, percent }),
      };
    }
    case 'credits.spend_limit.reached': {
      const period = text(event.period);
      const limit = money(event.monthly_spend_limit) ?? (await getAccount(accountId))?.spend_limit;
      if (!period || limit === undefined) return undefined;
      return { family: 'spend_limit', message: spendLimitReachedEmail(look, { accountId, period, limit }) };
    }
    case 'credits.token_limit.reached': {
      const tokenId = text(event.token_id);
      const periodStart = text(event.period_start);
      if (!tokenId || !periodStart) return undefined;
      const token = await getAccountToken(accountId, tokenId);
      // A token deleted or whose limit was removed since: nothing left to tell.
      if (!token?.spend_limit) return undefined;
      return {
        family: 'spend_limit',
        message: tokenLimitReachedEmail(look, {
          accountId,
          tokenName: token.name,
          tokenPrefix: token.prefix,
          limit: token.spend_limit.amount,
          reset: token.spend_limit.reset,
          periodStart,
        }),
      };
    }
    case 'credits.invoice.issued':
    case 'credits.invoice.payment_failed':
    case 'credits.invoice.overdue': {
      const invoiceId = text(event.invoice_id);
      const period = text(event.period);
      const amount = money(event.amount);
      if (!invoiceId || !period || amount === undefined) return undefined;
      const dueDate = text(event.due_date);
      const invoiceUrl = text(event.hosted_invoice_url);
      const input = {
        accountId,
        invoiceId,
        period,
        amount,
        ...(dueDate ? { dueDate } : {}),
        ...(invoiceUrl ? { invoiceUrl } : {}),
      };
      const make =
        event.type === 'credits.invoice.issued'
          ? invoiceIssuedEmail
          : event.type === 'credits.invoice.overdue'
            ? invoiceOverdueEmail
            : invoicePaymentFailedEmail;
      return { family: 'invoices', message: make(look, input) };
    }
    case 'credits.purchase.succeeded': {
      // A refill's payment is told by its auto-refill email; a receipt is for a purchase the customer made.
      const purchaseId = text(event.purchase_id);
      const amount = money(event.amount);
      if (!purchaseId || amount === undefined) return undefined;
      const receiptUrl = text(event.receipt_url) ?? text(event.invoice_url);
      return {
        family: 'receipts',
        message: purchaseReceiptEmail(look, {
          accountId,
          purchaseId,
          amount,
          paymentMethod: methodText(event.payment_method) ?? text(event.payment_method_type) ?? 'card',
          paidAt: event.at,
          ...(receiptUrl ? { receiptUrl } : {}),
        }),
      };
    }
    case 'credits.webhook_endpoint.disabled': {
      const endpointId = text(event.endpoint_id);
      const url = text(event.url);
      const failingSince = text(event.failing_since);
      if (!endpointId || !url || !failingSince) return undefined;
      return {
        family: null,
        message: webhookEndpointDisabledEmail(look, { accountId, endpointId, url, failingSince }),
      };
    }
    default:
      return undefined;
  }
}
