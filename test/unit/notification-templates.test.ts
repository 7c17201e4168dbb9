// The notification emails' templates: every email renders, escapes what it interpolates, shows money as the
// dashboard does and links only where it may.
import { describe, expect, it } from 'vitest';
import { micros, toWire } from '#shared/money.ts';
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
  memberInvitationEmail,
  purchaseReceiptEmail,
  safeLink,
  signupLinkEmail,
  spendLimitReachedEmail,
  spendLimitWarningEmail,
  tokenLimitReachedEmail,
  usd,
  webhookEndpointDisabledEmail,
} from '#shared/notifications/templates.ts';
import { money } from '../../dashboard/src/format.ts';

const HOSTILE = `<script>alert(1)</script> & "Tom's"`;
const HOSTILE_ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Tom&#39;s&quot;';
const DASHBOARD = 'https://billing.example.com/dashboard';
const brand: Brand = { productName: 'Acme API', dashboardUrl: DASHBOARD };
const hostileBrand: Brand = { productName: HOSTILE, dashboardUrl: DASHBOARD };

const amount = micros(25_000_000);
const invoice = {
  accountId: 'acc_1',
  invoiceId: 'in_1',
  period: '2026-11',
  amount: micros(120_500_000),
  dueDate: '2026-12-31',
  invoiceUrl: 'https://invoice.stripe.com/i/acct_1/in_1',
};

/** Each email, with `name` wherever a name, a reason or a label goes, and `link` as its link if it takes one. */
const emails: Array<[string, (brand: Brand, name: string, link?: string) => EmailMessage]> = [
  [
    'low balance',
    (b, _name) =>
      lowBalanceEmail(b, { accountId: 'acc_1', balance: micros(4_200_000), threshold: micros(10_000_000) }),
  ],
  [
    'auto-refill succeeded',
    (b, name) =>
      autoRefillSucceededEmail(b, {
        accountId: 'acc_1',
        amount,
        balance: micros(29_000_000),
        paymentMethod: name,
      }),
  ],
  [
    'auto-refill failed',
    (b, name, link) => autoRefillFailedEmail(b, { accountId: 'acc_1', amount, reason: name, topUpUrl: link }),
  ],
  [
    'auto-refill suspended',
    (b, name, link) => autoRefillSuspendedEmail(b, { accountId: 'acc_1', reason: name, topUpUrl: link }),
  ],
  [
    'spend limit warning',
    (b, _name) =>
      spendLimitWarningEmail(b, {
        accountId: 'acc_1',
        period: '2026-12',
        usage: micros(400_000_000),
        limit: micros(500_000_000),
        percent: 80,
      }),
  ],
  [
    'spend limit reached',
    (b, _name) =>
      spendLimitReachedEmail(b, { accountId: 'acc_1', period: '2026-12', limit: micros(500_000_000) }),
  ],
  [
    'token limit reached',
    (b, name) =>
      tokenLimitReachedEmail(b, {
        accountId: 'acc_1',
        tokenName: name,
        tokenPrefix: 'cr_live_ab12',
        limit: micros(5_000_000),
        reset: 'daily',
        periodStart: '2026-12-02T00:00:00Z',
      }),
  ],
  ['invoice issued', (b, _name, link) => invoiceIssuedEmail(b, { ...invoice, invoiceUrl: link })],
  [
    'invoice payment failed',
    (b, _name, link) => invoicePaymentFailedEmail(b, { ...invoice, invoiceUrl: link }),
  ],
  ['invoice overdue', (b, _name, link) => invoiceOverdueEmail(b, { ...invoice, invoiceUrl: link })],
  [
    'purchase receipt',
    (b, name, link) =>
      purchaseReceiptEmail(b, {
        accountId: 'acc_1',
        purchaseId: 'pur_1',
        amount: micros(10_000_000),
        paymentMethod: name,
        paidAt: '2026-12-02T12:20:00Z',
        receiptUrl: link,
      }),
  ],
  [
    'webhook endpoint disabled',
    (b, name) =>
      webhookEndpointDisabledEmail(b, {
        accountId: 'acc_1',
        endpointId: 'we_01JEXAMPLE',
        url: `https://hooks.example.com/${name}`,
        failingSince: '2026-11-29T08:05:00Z',
      }),
  ],
  [
    'member invitation',
    (b, name, link) =>
      memberInvitationEmail(b, {
        accountId: 'acc_1',
        accountName: name,
        role: 'billing',
        signInUrl: link ?? '',
      }),
  ],
  [
    'sign-up link',
    (b, name, link) => signupLinkEmail(b, { url: link ?? '', accountName: name, validMinutes: 15 }),
  ],
];

/** The emails that take a link of their own (top-up, invoice, receipt, sign-in, sign-up). */
const linking = new Set([
  'member invitation',
  'sign-up link',
  'auto-refill failed',
  'auto-refill suspended',
  'invoice issued',
  'invoice payment failed',
  'invoice overdue',
  'purchase receipt',
]);

const TAG = /<\/?[a-z][^>]*>/i;

describe.each(emails)('%s email', (_email, build) => {
  it('has a one-line subject, a text and an HTML version, and the dashboard link', () => {
    const email = build(brand, 'Ops team', 'https://pay.example.com/x');

    expect(email.subject.length).toBeGreaterThan(0);
    expect(email.subject.length).toBeLessThan(80);
    expect(email.subject).not.toMatch(/[\r\n]/);
    expect(email.text.trim().length).toBeGreaterThan(0);
    expect(email.html).toMatch(/^<!doctype html><html lang="en">/);
    expect(email.text).not.toMatch(TAG);
    expect(email.text).toContain(DASHBOARD);
    expect(email.html).toContain(`href="${DASHBOARD}"`);
  });

  it('escapes every interpolated value in the HTML and keeps it verbatim in the text', () => {
    const email = build(hostileBrand, HOSTILE, 'https://pay.example.com/x');

    expect(email.text).toContain(HOSTILE);
    expect(email.html).toContain(HOSTILE_ESCAPED);
    expect(email.html).not.toContain('<script');
    expect(email.html).not.toContain(`"Tom's"`);
  });

  it.each([
    'http://pay.example.com/x',
    'javascript:alert(1)',
    'data:text/html,<b>x</b>',
    'https://user:secret@pay.example.com/x',
    'not a url',
  ])('drops the link %s', (link) => {
    const email = build(brand, 'Ops team', link);

    const hrefs = [...email.html.matchAll(/href="([^"]*)"/g)].map((match) => match[1]);
    expect(hrefs).toEqual([DASHBOARD]);
    expect(email.text).not.toContain('pay.example.com');
    expect(email.text).not.toContain('javascript:');
  });
});

describe.each(emails.filter(([email]) => linking.has(email)))('%s email', (_email, build) => {
  it('links an https URL passed in, in both versions', () => {
    const email = build(brand, 'Ops team', 'https://pay.example.com/top-up?session=cs_1&x=1');

    expect(email.text).toContain('https://pay.example.com/top-up?session=cs_1&x=1');
    expect(email.html).toContain('href="https://pay.example.com/top-up?session=cs_1&amp;x=1"');
  });
});

describe('dashboard link', () => {
  it('is left out when the configured URL is not https', () => {
    const email = lowBalanceEmail(
      { productName: 'Acme API', dashboardUrl: 'javascript:alert(1)' },
      { accountId: 'acc_1', balance: micros(1), threshold: micros(2) },
    );

    expect(email.html).not.toContain('href=');
    expect(email.text).not.toContain('javascript:');
  });

  it('may be the local stack on http://localhost', () => {
    const email = lowBalanceEmail(
      { productName: 'Acme API', dashboardUrl: 'http://localhost:3000/' },
      { accountId: 'acc_1', balance: micros(1), threshold: micros(2) },
    );

    expect(email.html).toContain('href="http://localhost:3000/"');
  });
});

describe('safeLink', () => {
  it.each([
    ['https://checkout.stripe.com/c/pay/cs_1', 'https://checkout.stripe.com/c/pay/cs_1'],
    ['http://localhost:3000/checkout/cs_1', 'http://localhost:3000/checkout/cs_1'],
    ['http://127.0.0.1:3000/checkout/cs_1', 'http://127.0.0.1:3000/checkout/cs_1'],
  ])('keeps %s', (url, expected) => {
    expect(safeLink(url)).toBe(expected);
  });

  it.each([
    'http://example.com/',
    'http://localhost.example.com/',
    'ftp://example.com/',
    'javascript:alert(1)',
    'https://a:b@example.com/',
    '',
    undefined,
  ])('refuses %s', (url) => {
    expect(safeLink(url)).toBeUndefined();
  });
});

describe('amounts', () => {
  it.each([
    [25_000_000, '$25.00'],
    [1_234_567, '$1.234567'],
    [1_500, '$0.0015'],
    [1, '$0.000001'],
    [0, '$0.00'],
    [10_000_000_000, '$10,000.00'],
    [123_456_789_012, '$123,456.789012'],
    [999_999_999_999_999, '$999,999,999.999999'],
    [-2_500_000, '-$2.50'],
  ])('%d micros read %s, as the dashboard shows them', (amount, expected) => {
    expect(usd(micros(amount))).toBe(expected);
    expect(usd(micros(amount))).toBe(money(toWire(micros(amount))));
  });

  it('appear exactly in the subject and the body', () => {
    const email = lowBalanceEmail(brand, {
      accountId: 'acc_1',
      balance: micros(1_234_567),
      threshold: micros(10_000_000),
    });

    expect(email.subject).toBe('Your balance is below $10.00');
    expect(email.text).toContain('Balance: $1.234567');
    expect(email.html).toContain('$1.234567');
  });

  it('name the failed refill in its subject', () => {
    expect(
      autoRefillFailedEmail(brand, { accountId: 'acc_1', amount, reason: 'card_declined' }).subject,
    ).toBe('Auto-refill of $25.00 failed');
  });
});

describe('auto-refill failed', () => {
  it('asks for authentication with the top-up link when there is one', () => {
    const email = autoRefillFailedEmail(brand, {
      accountId: 'acc_1',
      amount,
      reason: 'authentication_required',
      topUpUrl: 'https://checkout.stripe.com/c/pay/cs_1',
    });

    expect(email.text).toContain('Top up and authenticate: https://checkout.stripe.com/c/pay/cs_1');
    expect(email.html).toContain('<a href="https://checkout.stripe.com/c/pay/cs_1"');
  });

  it('says auto-refill stays on when there is no top-up link', () => {
    const email = autoRefillFailedEmail(brand, { accountId: 'acc_1', amount, reason: 'card_declined' });

    expect(email.text).toContain('Auto-refill stays on');
    expect(email.text).not.toContain('authenticate');
  });
});

describe('token limit reached', () => {
  it('names the token by name and prefix, its limit and its period', () => {
    const email = tokenLimitReachedEmail(brand, {
      accountId: 'acc_1',
      tokenName: 'ci',
      tokenPrefix: 'cr_live_ab12',
      limit: micros(5_000_000),
      reset: 'weekly',
      periodStart: '2026-11-30T00:00:00Z',
    });

    expect(email.subject).toBe('Token "ci" reached its $5.00 weekly limit');
    expect(email.text).toContain('Token: ci (cr_live_ab12…)');
    expect(email.text).toContain('Limit: $5.00 weekly');
    expect(email.text).toContain('Period started: Nov 30, 2026');
  });
  it('keeps the subject on one line whatever the name holds', () => {
    const email = tokenLimitReachedEmail(brand, {
      accountId: 'acc_1',
      tokenName: 'ci\r\nBcc: someone@example.com',
      tokenPrefix: 'cr_live_ab12',
      limit: micros(5_000_000),
      reset: 'never',
      periodStart: '2026-11-30T00:00:00Z',
    });

    expect(email.subject).toBe('Token "ci Bcc: someone@example.com" reached its $5.00 lifetime limit');
  });
});

describe('invoices and receipts', () => {
  it('read the period, amount and due date', () => {
    const email = invoiceOverdueEmail(brand, invoice);

    expect(email.subject).toBe('Your $120.50 invoice is overdue');
    expect(email.text).toContain('Period: November 2026');
    expect(email.text).toContain('Due: Dec 31, 2026');
    expect(email.text).toContain(`View and pay the invoice: ${invoice.invoiceUrl}`);
  });

  it('a receipt carries the amount, the payment method and the receipt link', () => {
    const email = purchaseReceiptEmail(brand, {
      accountId: 'acc_1',
      purchaseId: 'pur_1',
      amount: micros(10_000_000),
      paymentMethod: 'Visa ending in 4242',
      paidAt: '2026-12-02T15:20:00Z',
      receiptUrl: 'https://pay.stripe.com/receipts/r_1',
    });

    expect(email.subject).toBe('Receipt for your $10.00 purchase');
    expect(email.text).toContain('Payment method: Visa ending in 4242');
    expect(email.text).toContain('Paid: Dec 2, 2026, 15:20 UTC');
    expect(email.html).toContain('href="https://pay.stripe.com/receipts/r_1"');
  });
});

describe('webhook endpoint disabled', () => {
  it('names the endpoint, its URL as text (never a link) and since when it failed', () => {
    const email = webhookEndpointDisabledEmail(brand, {
      accountId: 'acc_1',
      endpointId: 'we_01JEXAMPLE',
      url: 'https://hooks.example.com/billing',
      failingSince: '2026-11-29T08:05:00Z',
    });

    expect(email.subject).toBe('A webhook endpoint was disabled');
    expect(email.text).toContain('Endpoint: we_01JEXAMPLE');
    expect(email.text).toContain('URL: https://hooks.example.com/billing');
    expect(email.text).toContain('Failing since: Nov 29, 2026, 08:05 UTC');
    expect(email.html).not.toContain('href="https://hooks.example.com');
  });
});

describe('member invitation and sign-up emails', () => {
  it('say why the reader gets them, not the notification settings', () => {
    const invitation = memberInvitationEmail(brand, {
      accountId: 'acc_1',
      accountName: 'Acme Corp',
      role: 'owner',
      signInUrl: `${DASHBOARD}/?signin=ann%40example.com`,
    });
    const signup = signupLinkEmail(brand, {
      url: `${DASHBOARD}/auth/callback?token=x`,
      accountName: 'New',
      validMinutes: 15,
    });

    expect(invitation.subject).toBe('You are invited to Acme Corp on Acme API');
    expect(invitation.text).toContain('invited your address');
    expect(invitation.text).toContain(`Sign in to the dashboard: ${DASHBOARD}/?signin=ann%40example.com`);
    expect(invitation.text).not.toContain('notification settings of your');
    expect(signup.text).toContain('within 15 minutes');
    expect(signup.text).toContain('signed up to Acme API with your address');
  });
});
