// Dashboard › Transactions: the ledger newest first, a page at a time, and all of it as CSV (built here in
// the browser from the API's pages).
import { answer, client, type Transaction } from '../api.ts';
import { toCsv } from '../csv.ts';
import { h } from '../dom.ts';
import { money, when } from '../format.ts';
import { announce, busy, errorBox, loading, page, section, type View, type ViewContext } from '../ui.ts';

const PAGE_SIZE = 50;
/** CSV export reads at most this many pages of 100 (50,000 entries): a bigger export belongs in a job. */
const EXPORT_PAGES = 500;

const CSV_COLUMNS = [
  'id',
  'created_at',
  'type',
  'amount',
  'balance_after',
  'feature',
  'token_id',
  'reference',
  'request_id',
] as const;

function detail(entry: Transaction): string {
  return entry.feature ?? entry.reference ?? '';
}

function row(entry: Transaction): HTMLTableRowElement {
  return h(
    'tr',
    {},
    h('td', {}, when(entry.created_at)),
    h('td', {}, entry.type),
    h('td', {}, detail(entry)),
    h(
      'td',
      { class: `num ${entry.amount < 0 ? 'minus' : 'plus'}` },
      `${entry.amount > 0 ? '+' : ''}${money(entry.amount)}`,
    ),
    h('td', { class: 'num' }, entry.balance_after === undefined ? '' : money(entry.balance_after)),
    h('td', { class: 'mono' }, entry.request_id ?? ''),
  );
}

async function exportCsv(button: HTMLButtonElement, status: HTMLElement): Promise<void> {
  await busy(button, async () => {
    const entries: Transaction[] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    try {
      do {
        const query = { limit: 100, ...(cursor ? { cursor } : {}) };
        const result = await answer(client.GET('/v1/transactions', { params: { query } }));
        entries.push(...result.data);
        cursor = result.next_cursor;
        status.textContent = `Preparing the CSV: ${entries.length} entries…`;
      } while (cursor && ++pages < EXPORT_PAGES);
    } catch (error) {
      status.replaceChildren(errorBox(error));
      return;
    }
    const blob = new Blob([toCsv(CSV_COLUMNS, entries)], { type: 'text/csv;charset=utf-8' });
    const link = h('a', {
      href: URL.createObjectURL(blob),
      download: `transactions-${new Date().toISOString().slice(0, 10)}.csv`,
    });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    const message = cursor
      ? `Downloaded the newest ${entries.length} entries (the export stops at ${EXPORT_PAGES * 100}).`
      : `Downloaded ${entries.length} entries as CSV.`;
    status.textContent = message;
    announce(message);
  });
}

async function render(context: ViewContext): Promise<void> {
  const body = h('tbody', {});
  const ledger = h(
    'table',
    {},
    h('caption', {}, 'Ledger entries, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Date', 'Type', 'Feature or reference', 'Amount', 'Balance after', 'Request id'].map((title) =>
          h('th', { scope: 'col' }, title),
        ),
      ),
    ),
    body,
  );
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const csv = h('button', { type: 'button', class: 'secondary' }, 'Download CSV');
  const exportStatus = h('p', { class: 'muted', 'aria-live': 'polite' });
  const problems = h('div', {});
  const placeholder = loading('transactions');
  page(
    context,
    'Transactions',
    section(
      'Ledger',
      h('div', { class: 'actions' }, csv, exportStatus),
      h('div', { class: 'scroll' }, ledger),
      placeholder,
      problems,
      more,
    ),
  );
  let cursor: string | null | undefined;
  const loadPage = async () => {
    problems.replaceChildren();
    try {
      const query = { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) };
      const result = await answer(client.GET('/v1/transactions', { params: { query } }));
      if (!context.isCurrent()) return;
      placeholder.remove();
      body.append(...result.data.map(row));
      if (!body.children.length) placeholder.replaceWith(h('p', { class: 'muted' }, 'No transactions yet.'));
      cursor = result.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      if (context.isCurrent()) problems.replaceChildren(errorBox(error, () => void loadPage()));
    }
  };
  more.addEventListener('click', () => void busy(more, loadPage));
  csv.addEventListener('click', () => void exportCsv(csv, exportStatus));
  await loadPage();
}

export const transactions: View = { id: 'transactions', title: 'Transactions', shows: () => true, render };
