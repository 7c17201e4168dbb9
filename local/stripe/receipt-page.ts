// Stripe emulator: a charge's receipt page (`receipt_url`) and an invoice's PDF (`invoice_pdf`). Both only
// show what the objects hold: who paid what, when, and with which method.
import type Stripe from 'stripe';
import type { EmulatorContext } from './context.ts';
import { escapeHtml, formatMoney, layout } from './html.ts';
import { type Answer, html } from './http.ts';

function day(unix: number): string {
  return new Date(unix * 1000).toISOString().slice(0, 10);
}

/** How the charge was paid, as a receipt prints it: "Visa •••• 4242", "PayPal", … */
function methodOf(charge: Stripe.Charge): string {
  const details = charge.payment_method_details;
  if (details?.card) {
    const brand = details.card.brand ?? 'card';
    return `${brand.charAt(0).toUpperCase()}${brand.slice(1)} •••• ${details.card.last4 ?? ''}`.trim();
  }
  if (details?.type === 'paypal') return 'PayPal';
  if (details?.type === 'customer_balance') return 'Bank transfer';
  return details?.type ?? 'Payment';
}

function receipt(charge: Stripe.Charge): string {
  const rows: [string, string][] = [
    ['Amount paid', formatMoney(charge.amount_captured, charge.currency)],
    ['Date paid', day(charge.created)],
    ['Payment method', methodOf(charge)],
  ];
  if (charge.amount_refunded > 0)
    rows.push(['Refunded', formatMoney(charge.amount_refunded, charge.currency)]);
  return layout(
    `Receipt for ${charge.id}`,
    `<h1>Receipt</h1>
<p class="amount">${formatMoney(charge.amount_captured, charge.currency)}</p>
<dl>${rows.map(([name, value]) => `<dt>${escapeHtml(name)}</dt><dd>${escapeHtml(value)}</dd>`).join('\n')}</dl>
${charge.description ? `<p>${escapeHtml(charge.description)}</p>` : ''}`,
  );
}

/** A one-page PDF of plain text lines (Helvetica, ASCII): what `invoice_pdf` downloads. */
export function textPdf(lines: string[]): string {
  const text = (line: string) => line.replace(/[^\x20-\x7e]/g, '?').replace(/[\\()]/g, (c) => `\\${c}`);
  const stream = `BT /F1 12 Tf 72 760 Td 16 TL ${lines.map((line) => `(${text(line)}) '`).join(' ')} ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  for (const [index, object] of objects.entries()) {
    offsets.push(pdf.length);
    pdf += `${index + 1} 0 obj\n${object}\nendobj\n`;
  }
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  pdf += offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('');
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return pdf;
}

function invoicePdf(invoice: Stripe.Invoice): string {
  const money = (amount: number) => formatMoney(amount, invoice.currency).replace(/[^\x20-\x7e]/g, '');
  return textPdf([
    `Invoice ${invoice.number ?? invoice.id}`,
    `Status: ${invoice.status}`,
    `Billed to: ${[invoice.customer_name, invoice.customer_email].filter(Boolean).join(', ')}`,
    ...(invoice.description ? [invoice.description] : []),
    ...invoice.lines.data.map((line) => `${line.description ?? 'Item'}: ${money(line.amount)}`),
    `Total: ${money(invoice.total)}`,
    `Amount paid: ${money(invoice.amount_paid)}`,
    ...(invoice.footer ? [invoice.footer] : []),
  ]);
}

/** `GET /receipts/:charge` and `GET /invoices/:id/pdf`; `undefined` for any other path. */
export function serveReceiptPages(ctx: EmulatorContext, method: string, path: string): Answer | undefined {
  const chargeId = /^\/receipts\/([^/]+)$/.exec(path)?.[1];
  const invoiceId = /^\/invoices\/([^/]+)\/pdf$/.exec(path)?.[1];
  if (chargeId === undefined && invoiceId === undefined) return undefined;
  if (method !== 'GET') return html(405, layout('Not allowed', '<h1>Method not allowed</h1>'));
  if (chargeId !== undefined) {
    const charge = ctx.store.charges.get(decodeURIComponent(chargeId));
    if (!charge?.receipt_url) return html(404, layout('Not found', '<h1>Receipt not found</h1>'));
    return html(200, receipt(charge));
  }
  const invoice = ctx.store.invoices.get(decodeURIComponent(invoiceId!));
  if (!invoice?.invoice_pdf) return html(404, layout('Not found', '<h1>Invoice not found</h1>'));
  return {
    status: 200,
    headers: {
      'content-type': 'application/pdf',
      'content-disposition': `inline; filename="${invoice.number ?? invoice.id}.pdf"`,
    },
    body: invoicePdf(invoice),
  };
}
