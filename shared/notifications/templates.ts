// The notification emails' content: one pure function per email turns an event's typed facts into
// `{ subject, text, html }`; the sender (SES in the cloud, the mail catcher locally) only delivers the result.
//
// Every email is built as a few blocks (paragraphs, a table of facts, links) rendered twice from the same
// data, so the plain-text version says everything the HTML does. Every interpolated value is escaped in the
// HTML by `render`, the one place that writes markup; links go only to the dashboard and to URLs passed in
// that are https (or http on this machine, for the local stack), any other link is left out.

import { escapeHtml } from '../http/html.ts';
import { type Micros, toDecimalString } from '../money.ts';

/** The operator's branding, from configuration. */
export type Brand = { productName: string; dashboardUrl: string };

export type EmailMessage = { subject: string; text: string; html: string };

type Fact = readonly [label: string, value: string];
type Block =
  | { kind: 'paragraph'; text: string }
  | { kind: 'facts'; rows: readonly Fact[] }
  | { kind: 'link'; label: string; url: string | undefined };
type EmailContent = {
  subject: string;
  heading: string;
  blocks: readonly Block[];
  /** Why the reader got this email, when it is not the notification settings (sign-in, invitation, sign-up). */
  footer?: string;
};

// The dashboard's display rule for money (dashboard/src/format.ts `money`): at least the cents, and every
// micro-dollar digit beyond. Fed the exact decimal text from money.ts, so nothing is rounded or lost to a
// double on the way.
const usdExact = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 6,
});

/** `$25.00`, `$0.0015`, `$1,234.567891`: an amount as the dashboard shows it. */
export function usd(amount: Micros): string {
  return usdExact.format(toDecimalString(amount) as Intl.StringNumericLiteral);
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * A link we may put in an email: https, or http to this machine (the local stack's dashboard and emulated
 * checkout), without credentials in it. Anything else (javascript:, data:, plain http to a host, junk) is
 * `undefined`, and the link is left out.
 */
export function safeLink(url: string | undefined): string | undefined {
  if (!url) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.username || parsed.password) return undefined;
  const allowed =
    parsed.protocol === 'https:' || (parsed.protocol === 'http:' && LOCAL_HOSTS.has(parsed.hostname));
  return allowed ? parsed.href : undefined;
}

const monthName = new Intl.DateTimeFormat('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });
const dayName = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' });

/** A billing period (`2026-12`) as `December 2026`; anything else as given. */
function period(text: string): string {
  if (!/^\d{4}-\d{2}$/.test(text)) return text;
  const at = new Date(`${text}-01T00:00:00Z`);
  return Number.isNaN(at.getTime()) ? text : monthName.format(at);
}

/** A UTC day or instant (`2026-12-02…`) as `Dec 2, 2026`. */
function day(iso: string): string {
  const at = new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
  return Number.isNaN(at.getTime()) ? iso : dayName.format(at);
}

/** An instant as `Dec 2, 2026, 12:20 UTC`. */
function instant(iso: string): string {
  const at = new Date(iso);
  // The time as 24-hour UTC digits: no AM/PM, whose spacing differs between ICU versions.
  return Number.isNaN(at.getTime()) ? iso : `${dayName.format(at)}, ${at.toISOString().slice(11, 16)} UTC`;
}

/** A subject is one header line: no line breaks from an interpolated value, no runs of spaces. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

const STYLE = {
  body: 'margin:0;padding:24px;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;color:#1a1a1a;background:#ffffff',
  main: 'max-width:560px;margin:0 auto',
  cell: 'padding:4px 16px 4px 0;text-align:left;vertical-align:top',
  link: 'color:#0b57d0',
  footer: 'margin-top:32px;font-size:13px;color:#555555',
};

function render(brand: Brand, content: EmailContent): EmailMessage {
  const dashboard = safeLink(brand.dashboardUrl);
  const footer =
    content.footer ??
    `You receive this email because your address is in the notification settings of your ${brand.productName} account.`;
  const text: string[] = [content.heading, ''];
  const html: string[] = [];
  for (const block of content.blocks) {
    if (block.kind === 'paragraph') {
      text.push(block.text, '');
      html.push(`<p>${escapeHtml(block.text)}</p>`);
    } else if (block.kind === 'facts') {
      text.push(...block.rows.map(([label, value]) => `${label}: ${value}`), '');
      const rows = block.rows
        .map(
          ([label, value]) =>
            `<tr><th scope="row" style="${STYLE.cell}">${escapeHtml(label)}</th><td style="${STYLE.cell}">${escapeHtml(value)}</td></tr>`,
        )
        .join('');
      html.push(`<table style="border-collapse:collapse">${rows}</table>`);
    } else {
      const url = safeLink(block.url);
      if (!url) continue;
      text.push(`${block.label}: ${url}`, '');
      html.push(`<p><a href="${escapeHtml(url)}" style="${STYLE.link}">${escapeHtml(block.label)}</a></p>`);
    }
  }
  text.push('--', footer);
  let footerHtml = escapeHtml(footer);
  if (dashboard) {
    text.push(`Dashboard and notification settings: ${dashboard}`);
    footerHtml += ` <a href="${escapeHtml(dashboard)}" style="${STYLE.link}">Open the ${escapeHtml(brand.productName)} dashboard</a> to see your account or change these settings.`;
  }
  const subject = oneLine(content.subject);
  return {
    subject,
    text: `${text.join('\n')}\n`,
    html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(subject)}</title></head><body style="${STYLE.body}"><main style="${STYLE.main}"><h1 style="font-size:22px">${escapeHtml(content.heading)}</h1>${html.join('')}<p style="${STYLE.footer}">${footerHtml}</p></main></body></html>`,
  };
}

const account = (accountId: string): Fact => ['Account', accountId];

export type LowBalanceEmail = { accountId: string; balance: Micros; threshold: Micros };

export function lowBalanceEmail(brand: Brand, input: LowBalanceEmail): EmailMessage {
  return render(brand, {
    subject: `Your balance is below ${usd(input.threshold)}`,
    heading: 'Your balance is running low',
    blocks: [
      {
        kind: 'paragraph',
        text: `Your ${brand.productName} balance is ${usd(input.balance)}, below your alert threshold of ${usd(input.threshold)}. Calls are refused once it reaches zero: add credits or turn on auto-refill to keep them running.`,
      },
      {
        kind: 'facts',
        rows: [
          account(input.accountId),
          ['Balance', usd(input.balance)],
          ['Alert threshold', usd(input.threshold)],
        ],
      },
    ],
  });
}

export type AutoRefillSucceededEmail = {
  accountId: string;
  amount: Micros;
  /** The balance after the refill, when the sender knows it. */
  balance?: Micros;
  /** How the payment method reads, e.g. "Visa ending in 4242". */
  paymentMethod?: string;
};

export function autoRefillSucceededEmail(brand: Brand, input: AutoRefillSucceededEmail): EmailMessage {
  const rows: Fact[] = [account(input.accountId), ['Amount', usd(input.amount)]];
  if (input.paymentMethod) rows.push(['Payment method', input.paymentMethod]);
  if (input.balance !== undefined) rows.push(['New balance', usd(input.balance)]);
  return render(brand, {
    subject: `Auto-refill of ${usd(input.amount)} succeeded`,
    heading: 'Auto-refill succeeded',
    blocks: [
      {
        kind: 'paragraph',
        text: `Your balance ran low, so we charged ${usd(input.amount)} and added it to your ${brand.productName} credits.`,
      },
      { kind: 'facts', rows },
    ],
  });
}

export type AutoRefillFailedEmail = {
  accountId: string;
  amount: Micros;
  /** Why the charge failed, as the payment provider or the refill rules said it. */
  reason: string;
  /** Present when the bank asked for authentication: a checkout page where the customer tops up by hand. */
  topUpUrl?: string;
};

export function autoRefillFailedEmail(brand: Brand, input: AutoRefillFailedEmail): EmailMessage {
  const blocks: Block[] = [
    {
      kind: 'paragraph',
      text: `We tried to add ${usd(input.amount)} to your ${brand.productName} credits, but the charge did not go through.`,
    },
    {
      kind: 'facts',
      rows: [account(input.accountId), ['Amount', usd(input.amount)], ['Reason', input.reason]],
    },
  ];
  if (safeLink(input.topUpUrl)) {
    blocks.push(
      {
        kind: 'paragraph',
        text: 'Your bank asked you to confirm this payment. Top up once yourself to authenticate; auto-refill can go on after that.',
      },
      { kind: 'link', label: 'Top up and authenticate', url: input.topUpUrl },
    );
  } else {
    blocks.push({
      kind: 'paragraph',
      text: 'Auto-refill stays on and tries again when it may. Check your payment method in the dashboard.',
    });
  }
  return render(brand, {
    subject: `Auto-refill of ${usd(input.amount)} failed`,
    heading: 'Auto-refill failed',
    blocks,
  });
}

export type AutoRefillSuspendedEmail = {
  accountId: string;
  reason: string;
  /** Present when the bank asked for authentication: a checkout page where the customer tops up by hand. */
  topUpUrl?: string;
};

export function autoRefillSuspendedEmail(brand: Brand, input: AutoRefillSuspendedEmail): EmailMessage {
  return render(brand, {
    subject: 'Auto-refill is paused',
    heading: 'Auto-refill is paused',
    blocks: [
      {
        kind: 'paragraph',
        text: `Auto-refill of your ${brand.productName} credits is paused and will not charge you until you turn it on again in the dashboard.`,
      },
      { kind: 'facts', rows: [account(input.accountId), ['Reason', input.reason]] },
      { kind: 'link', label: 'Top up and authenticate', url: input.topUpUrl },
    ],
  });
}

export type SpendLimitWarningEmail = {
  accountId: string;
  /** The billing period, `YYYY-MM` (UTC month). */
  period: string;
  usage: Micros;
  limit: Micros;
  percent: number;
};

export function spendLimitWarningEmail(brand: Brand, input: SpendLimitWarningEmail): EmailMessage {
  return render(brand, {
    subject: `You have used ${input.percent}% of your ${usd(input.limit)} spend limit`,
    heading: 'You are near your spend limit',
    blocks: [
      {
        kind: 'paragraph',
        text: `Your usage for ${period(input.period)} is ${usd(input.usage)}, ${input.percent}% or more of your monthly spend limit of ${usd(input.limit)}. Calls are refused once the limit is reached; you can raise it in the dashboard.`,
      },
      {
        kind: 'facts',
        rows: [
          account(input.accountId),
          ['Period', period(input.period)],
          ['Usage', usd(input.usage)],
          ['Spend limit', usd(input.limit)],
        ],
      },
    ],
  });
}

export type SpendLimitReachedEmail = { accountId: string; period: string; limit: Micros };

export function spendLimitReachedEmail(brand: Brand, input: SpendLimitReachedEmail): EmailMessage {
  return render(brand, {
    subject: `Spend limit of ${usd(input.limit)} reached`,
    heading: 'Your spend limit is reached',
    blocks: [
      {
        kind: 'paragraph',
        text: `Your usage for ${period(input.period)} reached your monthly spend limit of ${usd(input.limit)}, so calls are refused until the next period or until you raise the limit in the dashboard.`,
      },
      {
        kind: 'facts',
        rows: [account(input.accountId), ['Period', period(input.period)], ['Spend limit', usd(input.limit)]],
      },
    ],
  });
}

export type TokenLimitReset = 'daily' | 'weekly' | 'monthly' | 'never';

export type TokenLimitReachedEmail = {
  accountId: string;
  tokenName: string;
  /** The token's visible prefix, never the secret. */
  tokenPrefix: string;
  limit: Micros;
  reset: TokenLimitReset;
  /** When the period that reached the limit started (ISO). */
  periodStart: string;
};

const resetWords: Record<TokenLimitReset, { period: string; until: string }> = {
  daily: { period: 'daily', until: 'until the next day (UTC)' },
  weekly: { period: 'weekly', until: 'until the next week' },
  monthly: { period: 'monthly', until: 'until the next month' },
  never: { period: 'lifetime', until: 'until the limit is raised' },
};

export function tokenLimitReachedEmail(brand: Brand, input: TokenLimitReachedEmail): EmailMessage {
  const words = resetWords[input.reset];
  return render(brand, {
    subject: `Token "${input.tokenName}" reached its ${usd(input.limit)} ${words.period} limit`,
    heading: 'A token reached its spend limit',
    blocks: [
      {
        kind: 'paragraph',
        text: `The token "${input.tokenName}" (${input.tokenPrefix}…) reached its ${words.period} spend limit of ${usd(input.limit)}. Its calls are refused ${words.until}; other tokens are not affected.`,
      },
      {
        kind: 'facts',
        rows: [
          account(input.accountId),
          ['Token', `${input.tokenName} (${input.tokenPrefix}…)`],
          ['Limit', `${usd(input.limit)} ${words.period}`],
          ['Period started', input.reset === 'never' ? 'when the token was made' : day(input.periodStart)],
        ],
      },
    ],
  });
}

export type InvoiceEmail = {
  accountId: string;
  invoiceId: string;
  /** The billing period invoiced, `YYYY-MM`. */
  period: string;
  amount: Micros;
  dueDate?: string;
  /** The hosted invoice page, where it can be read and paid. */
  invoiceUrl?: string;
};

function invoiceFacts(input: InvoiceEmail): Fact[] {
  const rows: Fact[] = [
    account(input.accountId),
    ['Invoice', input.invoiceId],
    ['Period', period(input.period)],
    ['Amount', usd(input.amount)],
  ];
  if (input.dueDate) rows.push(['Due', day(input.dueDate)]);
  return rows;
}

export function invoiceIssuedEmail(brand: Brand, input: InvoiceEmail): EmailMessage {
  return render(brand, {
    subject: `Your ${period(input.period)} invoice: ${usd(input.amount)}`,
    heading: 'Your invoice is ready',
    blocks: [
      {
        kind: 'paragraph',
        text: `Your ${brand.productName} invoice for ${period(input.period)} is ${usd(input.amount)}.`,
      },
      { kind: 'facts', rows: invoiceFacts(input) },
      { kind: 'link', label: 'View and pay the invoice', url: input.invoiceUrl },
    ],
  });
}

export function invoicePaymentFailedEmail(brand: Brand, input: InvoiceEmail): EmailMessage {
  return render(brand, {
    subject: `Payment of your ${usd(input.amount)} invoice failed`,
    heading: 'An invoice payment failed',
    blocks: [
      {
        kind: 'paragraph',
        text: `We could not collect ${usd(input.amount)} for your ${period(input.period)} invoice. Please pay it or update your payment method, so your calls are not refused once it is overdue.`,
      },
      { kind: 'facts', rows: invoiceFacts(input) },
      { kind: 'link', label: 'View and pay the invoice', url: input.invoiceUrl },
    ],
  });
}

export function invoiceOverdueEmail(brand: Brand, input: InvoiceEmail): EmailMessage {
  return render(brand, {
    subject: `Your ${usd(input.amount)} invoice is overdue`,
    heading: 'An invoice is overdue',
    blocks: [
      {
        kind: 'paragraph',
        text: `Your ${period(input.period)} invoice of ${usd(input.amount)} is past its due date. Calls may be refused until it is paid.`,
      },
      { kind: 'facts', rows: invoiceFacts(input) },
      { kind: 'link', label: 'View and pay the invoice', url: input.invoiceUrl },
    ],
  });
}

export type PurchaseReceiptEmail = {
  accountId: string;
  purchaseId: string;
  amount: Micros;
  /** How the payment method reads, e.g. "Visa ending in 4242". */
  paymentMethod: string;
  /** When the payment succeeded (ISO). */
  paidAt: string;
  /** The hosted receipt or invoice. */
  receiptUrl?: string;
};

export function purchaseReceiptEmail(brand: Brand, input: PurchaseReceiptEmail): EmailMessage {
  return render(brand, {
    subject: `Receipt for your ${usd(input.amount)} purchase`,
    heading: 'Thank you for your purchase',
    blocks: [
      {
        kind: 'paragraph',
        text: `${usd(input.amount)} of ${brand.productName} credits were added to your balance.`,
      },
      {
        kind: 'facts',
        rows: [
          account(input.accountId),
          ['Purchase', input.purchaseId],
          ['Amount', usd(input.amount)],
          ['Payment method', input.paymentMethod],
          ['Paid', instant(input.paidAt)],
        ],
      },
      { kind: 'link', label: 'View the receipt', url: input.receiptUrl },
    ],
  });
}

export type WebhookEndpointDisabledEmail = {
  accountId: string;
  endpointId: string;
  /** The customer's endpoint: shown as text, never as a link (it is theirs, and may be anything). */
  url: string;
  /** When its run of failed deliveries began. */
  failingSince: string;
};

export function webhookEndpointDisabledEmail(
  brand: Brand,
  input: WebhookEndpointDisabledEmail,
): EmailMessage {
  return render(brand, {
    subject: 'A webhook endpoint was disabled',
    heading: 'A webhook endpoint was disabled',
    blocks: [
      {
        kind: 'paragraph',
        text: `Every delivery to one of your ${brand.productName} webhook endpoints has failed for 3 days, so we stopped sending to it. Events from now on are not delivered to it; fix the receiver, then add the endpoint again in the dashboard or the API.`,
      },
      {
        kind: 'facts',
        rows: [
          account(input.accountId),
          ['Endpoint', input.endpointId],
          ['URL', input.url],
          ['Failing since', instant(input.failingSince)],
        ],
      },
    ],
  });
}

const roleWords: Record<'owner' | 'billing' | 'viewer', string> = {
  owner: 'owner (everything, including tokens, members and webhook endpoints)',
  billing: 'billing (buy credits, auto-refill, limits, notifications and invoices)',
  viewer: 'viewer (read credits, usage, transactions and invoices)',
};

export type MemberInvitationEmail = {
  accountId: string;
  accountName: string;
  role: 'owner' | 'billing' | 'viewer';
  /** Where the invited person signs in by email: the dashboard's sign-in, with their address filled in. */
  signInUrl: string;
};

/** An invitation to an account: no secret in it, the person asks the dashboard for a sign-in link. */
export function memberInvitationEmail(brand: Brand, input: MemberInvitationEmail): EmailMessage {
  return render(brand, {
    subject: `You are invited to ${input.accountName} on ${brand.productName}`,
    heading: `You are invited to ${input.accountName}`,
    blocks: [
      {
        kind: 'paragraph',
        text: `You were added to the ${brand.productName} account "${input.accountName}" as ${roleWords[input.role]}. Sign in with this email address: the dashboard emails you a sign-in link, no password needed.`,
      },
      { kind: 'facts', rows: [account(input.accountId), ['Role', input.role]] },
      { kind: 'link', label: 'Sign in to the dashboard', url: input.signInUrl },
    ],
    footer: `You receive this email because a member of a ${brand.productName} account invited your address.`,
  });
}

export type SignupLinkEmail = {
  /** The link that opens the account: valid for a short time, usable once. */
  url: string;
  accountName: string;
  validMinutes: number;
};

/** A self-serve sign-up's confirmation link. */
export function signupLinkEmail(brand: Brand, input: SignupLinkEmail): EmailMessage {
  return render(brand, {
    subject: `Confirm your ${brand.productName} sign-up`,
    heading: 'Confirm your sign-up',
    blocks: [
      {
        kind: 'paragraph',
        text: `Follow this link to open the ${brand.productName} account "${input.accountName}" and sign in. It works once, within ${input.validMinutes} minutes. If you did not sign up, ignore this email: nothing is opened without the link.`,
      },
      { kind: 'link', label: 'Open my account', url: input.url },
    ],
    footer: `You receive this email because someone signed up to ${brand.productName} with your address.`,
  });
}

export type SignInLinkEmail = { url: string; validMinutes: number };

/** A member's sign-in link (POST /auth/email): sent only to an address that is a member of some account. */
export function signInLinkEmail(brand: Brand, input: SignInLinkEmail): EmailMessage {
  return render(brand, {
    subject: `Sign in to ${brand.productName}`,
    heading: `Sign in to ${brand.productName}`,
    blocks: [
      {
        kind: 'paragraph',
        text: `Follow this link within ${input.validMinutes} minutes to sign in to the ${brand.productName} dashboard. It works once.`,
      },
      { kind: 'link', label: 'Sign in', url: input.url },
      {
        kind: 'paragraph',
        text: 'If you did not ask to sign in, ignore this email: nothing happens without the link.',
      },
    ],
    footer: `You receive this email because someone asked for a sign-in link for this address on ${brand.productName}.`,
  });
}
