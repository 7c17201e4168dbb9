// Dashboard › Transactions: the ledger as people read it. Usage charges grouped per day and feature (count and
// total, from GET /v1/usage), each group expandable to its calls (GET /v1/transactions?type=usage&feature=
// &begin=&end=, a page at a time); every other entry listed on its own with what it was: "Purchase · Visa
// •••• 4242" with its receipt, a grant's or correction's reason. Filters by type and date range, applied by
// the API. The whole ledger exports as CSV (built here in the browser from the API's pages).
import { answer, client, type Transaction } from '../api.ts';
import { toCsv } from '../csv.ts';
import { field, h } from '../dom.ts';
import { day, daysAgo, money, when } from '../format.ts';
import {
  announce,
  busy,
  errorBox,
  fieldProblem,
  loading,
  page,
  section,
  type View,
  type ViewContext,
} from '../ui.ts';

const PAGE_SIZE = 50;
/** Requests one "page" of a filtered list may take to fill up (the API reads up to 2,000 entries each). */
const READS_PER_PAGE = 5;
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

type EntryType = Transaction['type'];

/** The type filter's choices: which usage groups and which other entries each shows. */
const KINDS = {
  all: { label: 'All', usage: true, others: { exclude_type: 'usage' } },
  usage: { label: 'Usage', usage: true, others: { type: 'reversal' } },
  purchases: { label: 'Purchases & refills', usage: false, others: { type: 'purchase,auto_refill' } },
  grants: { label: 'Grants & corrections', usage: false, others: { type: 'grant,correction' } },
  refunds: { label: 'Refunds & disputes', usage: false, others: { type: 'refund,dispute' } },
} as const;
type Kind = keyof typeof KINDS;

const TYPE_LABELS: Record<EntryType, string> = {
  grant: 'Grant',
  correction: 'Correction',
  usage: 'Usage',
  reversal: 'Reversal',
  purchase: 'Purchase',
  refund: 'Refund',
  dispute: 'Dispute',
  auto_refill: 'Auto-refill',
};

const compact = new Intl.DateTimeFormat('en-US', {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});
const compactTime = new Intl.DateTimeFormat('en-US', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** "Dec 2, 14:05" (local time), never wrapped; the full date and time are its tooltip. */
function at(iso: string, format = compact): HTMLElement {
  const date = new Date(iso);
  const text = Number.isNaN(date.getTime()) ? iso : format.format(date);
  return h('time', { datetime: iso, title: when(iso), class: 'nowrap' }, text);
}

function signed(amount: number): HTMLTableCellElement {
  return h(
    'td',
    { class: `num nowrap ${amount < 0 ? 'minus' : 'plus'}` },
    `${amount > 0 ? '+' : ''}${money(amount)}`,
  );
}

/** What an entry was, in words: "Purchase · Visa •••• 4242", "Grant · Welcome credit". */
function description(entry: Transaction): (Node | string)[] {
  const label = TYPE_LABELS[entry.type] ?? entry.type;
  const parts: (Node | string)[] = [];
  if (entry.type === 'purchase' || entry.type === 'auto_refill') {
    parts.push(entry.payment_method ? `${label} · ${entry.payment_method}` : label);
    if (entry.receipt_url) {
      parts.push(' ', h('a', { href: entry.receipt_url, target: '_blank', rel: 'noopener' }, 'Receipt'));
    }
    return parts;
  }
  if (entry.type === 'reversal') {
    return [`${label} · ${entry.feature ?? 'charge'} given back${entry.reason ? ` (${entry.reason})` : ''}`];
  }
  const detail = entry.reason ?? entry.feature;
  return [detail ? `${label} · ${detail}` : label];
}

function entryRow(entry: Transaction): HTMLTableRowElement {
  return h(
    'tr',
    {},
    h('td', {}, at(entry.created_at)),
    h('td', {}, ...description(entry)),
    signed(entry.amount),
  );
}

function callRow(entry: Transaction): HTMLTableRowElement {
  return h(
    'tr',
    {},
    h('td', {}, at(entry.created_at, compactTime)),
    h('td', { class: 'mono' }, entry.request_id ?? ''),
    signed(entry.amount),
  );
}

type Range = { begin: string; end: string };

/** A page of entries; a filtered page may be short while `next_cursor` continues. */
async function entries(query: Record<string, string | number>, cursor: string | null | undefined) {
  return answer(
    client.GET('/v1/transactions', {
      params: { query: { limit: PAGE_SIZE, ...query, ...(cursor ? { cursor } : {}) } },
    }),
  );
}

/**
 * A list that reads pages until it has a page of rows (filtered pages may be short, even empty), at most
 * READS_PER_PAGE requests at a time, and offers "Show more" while
 * the API has more. Resolves with whether it found anything at all.
 */
function pagedRows(
  body: HTMLTableSectionElement,
  more: HTMLButtonElement,
  query: Record<string, string | number>,
  row: (entry: Transaction) => HTMLTableRowElement,
  isCurrent: () => boolean,
): () => Promise<void> {
  let cursor: string | null | undefined;
  return async () => {
    let added = 0;
    let requests = 0;
    do {
      const result = await entries(query, cursor);
      if (!isCurrent()) return;
      body.append(...result.data.map(row));
      added += result.data.length;
      cursor = result.next_cursor;
    } while (cursor && added < PAGE_SIZE && ++requests < READS_PER_PAGE);
    more.hidden = !cursor;
  };
}

/** One day's calls of one feature, opened from its group row. */
function callsPanel(feature: string, isoDay: string, isCurrent: () => boolean): HTMLElement {
  const body = h('tbody', {});
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Show more calls');
  const problems = h('div', {});
  const placeholder = loading('calls');
  const table = h(
    'table',
    {},
    h('caption', {}, `Calls of ${feature} on ${day(isoDay)}`),
    h(
      'thead',
      {},
      h('tr', {}, ...['Time', 'Request id', 'Amount'].map((title) => h('th', { scope: 'col' }, title))),
    ),
    body,
  );
  const read = pagedRows(
    body,
    more,
    { type: 'usage', feature, begin: isoDay, end: isoDay },
    callRow,
    isCurrent,
  );
  const load = async () => {
    problems.replaceChildren();
    try {
      await read();
    } catch (error) {
      if (isCurrent()) problems.replaceChildren(errorBox(error, () => void load()));
    } finally {
      placeholder.remove();
    }
  };
  more.addEventListener('click', () => void busy(more, load));
  void load();
  return h('div', { class: 'calls' }, table, placeholder, problems, more);
}

type Group = { day: string; feature: string; requests: number; cost: number };

/** Usage per day and feature in the range, newest day first: one GET /v1/usage, then one per feature. */
async function usageGroups(range: Range): Promise<Group[]> {
  const all = await answer(client.GET('/v1/usage', { params: { query: { step: 'day', ...range } } }));
  const features = [...new Set(all.data.flatMap((bucket) => Object.keys(bucket.by_feature)))].sort();
  const perFeature = await Promise.all(
    features.map(async (feature) => {
      const usage = await answer(
        client.GET('/v1/usage', { params: { query: { step: 'day', ...range, feature } } }),
      );
      return usage.data
        .filter((bucket) => bucket.requests > 0)
        .map((bucket) => ({
          day: bucket.period_start.slice(0, 10),
          feature,
          requests: bucket.requests,
          cost: bucket.cost,
        }));
    }),
  );
  return perFeature.flat().sort((a, b) => (a.day === b.day ? 0 : a.day < b.day ? 1 : -1));
}

let panels = 0;

function groupRows(group: Group, isCurrent: () => boolean): HTMLTableRowElement[] {
  const id = `calls-${++panels}`;
  const toggle = h(
    'button',
    { type: 'button', class: 'link-button', 'aria-expanded': 'false', 'aria-controls': id },
    `${group.feature}: show calls`,
  );
  const cell = h('td', { colspan: 4 });
  const detail = h('tr', { id, hidden: true, class: 'calls-row' }, cell);
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    toggle.textContent = `${group.feature}: ${open ? 'hide' : 'show'} calls`;
    detail.hidden = !open;
    if (open && !cell.firstChild) cell.append(callsPanel(group.feature, group.day, isCurrent));
  });
  return [
    h(
      'tr',
      { class: 'usage-group', 'data-feature': group.feature, 'data-day': group.day },
      h('td', { class: 'nowrap' }, day(group.day)),
      h('td', {}, toggle),
      h('td', { class: 'num' }, group.requests.toLocaleString('en-US')),
      h('td', { class: 'num nowrap minus' }, money(-group.cost)),
    ),
    detail,
  ];
}

async function exportCsv(button: HTMLButtonElement, status: HTMLElement): Promise<void> {
  await busy(button, async () => {
    const all: Transaction[] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    try {
      do {
        const query = { limit: 100, ...(cursor ? { cursor } : {}) };
        const result = await answer(client.GET('/v1/transactions', { params: { query } }));
        all.push(...result.data);
        cursor = result.next_cursor;
        status.textContent = `Preparing the CSV: ${all.length} entries…`;
      } while (cursor && ++pages < EXPORT_PAGES);
    } catch (error) {
      status.replaceChildren(errorBox(error));
      return;
    }
    const blob = new Blob([toCsv(CSV_COLUMNS, all)], { type: 'text/csv;charset=utf-8' });
    const link = h('a', {
      href: URL.createObjectURL(blob),
      download: `transactions-${new Date().toISOString().slice(0, 10)}.csv`,
    });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    const message = cursor
      ? `Downloaded the newest ${all.length} entries (the export stops at ${EXPORT_PAGES * 100}).`
      : `Downloaded ${all.length} entries as CSV.`;
    status.textContent = message;
    announce(message);
  });
}

function table(caption: string, columns: string[], body: HTMLTableSectionElement): HTMLElement {
  return h(
    'div',
    { class: 'scroll', role: 'region', 'aria-label': caption, tabindex: '0' },
    h(
      'table',
      {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, ...columns.map((title) => h('th', { scope: 'col' }, title)))),
      body,
    ),
  );
}

async function render(context: ViewContext): Promise<void> {
  const kind = h(
    'select',
    { id: 'ledger-type' },
    ...Object.entries(KINDS).map(([value, choice]) => h('option', { value }, choice.label)),
  );
  const begin = h('input', { type: 'date', id: 'ledger-begin', value: daysAgo(6) });
  const end = h('input', { type: 'date', id: 'ledger-end', value: daysAgo(0) });
  const submit = h('button', { type: 'submit' }, 'Show entries');
  const form = h(
    'form',
    { class: 'filters' },
    field('Type', kind),
    field('From', begin),
    field('To', end),
    h('div', { class: 'field' }, submit),
  );
  const csv = h('button', { type: 'button', class: 'secondary' }, 'Download CSV');
  const exportStatus = h('p', { class: 'muted', 'aria-live': 'polite' });
  const results = h('div', {});
  page(
    context,
    'Transactions',
    section('Filters', form, h('div', { class: 'actions' }, csv, exportStatus)),
    section('Ledger', results),
  );

  const load = async () => {
    fieldProblem(begin, null);
    if (!begin.value || !end.value || begin.value > end.value) {
      fieldProblem(begin, 'Choose a start date on or before the end date.');
      return;
    }
    const range = { begin: begin.value, end: end.value };
    const choice = KINDS[kind.value as Kind] ?? KINDS.all;
    const placeholder = loading('transactions');
    results.replaceChildren(placeholder);
    const groupsBody = h('tbody', {});
    const othersBody = h('tbody', {});
    const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
    const isCurrent = context.isCurrent;
    const readOthers = pagedRows(othersBody, more, { ...choice.others, ...range }, entryRow, isCurrent);
    try {
      const [groups] = await Promise.all([choice.usage ? usageGroups(range) : [], readOthers()]);
      if (!context.isCurrent()) return;
      groupsBody.append(...groups.flatMap((group) => groupRows(group, isCurrent)));
      const parts: Node[] = [];
      if (groups.length)
        parts.push(table('Usage per day and feature', ['Day', 'Feature', 'Calls', 'Total'], groupsBody));
      if (othersBody.children.length)
        parts.push(table('Other entries, newest first', ['Date', 'Entry', 'Amount'], othersBody));
      parts.push(more);
      if (!groups.length && !othersBody.children.length) {
        // Nothing in the range: say whether the account has any entry at all.
        const any = await entries({ limit: 1 }, undefined);
        if (!context.isCurrent()) return;
        parts.unshift(
          h(
            'p',
            { class: 'muted', id: 'ledger-empty' },
            any.data.length ? 'No transactions match these filters.' : 'No transactions yet.',
          ),
        );
      }
      results.replaceChildren(...parts);
      more.addEventListener(
        'click',
        () =>
          void busy(more, async () => {
            try {
              await readOthers();
            } catch (error) {
              more.insertAdjacentElement('afterend', errorBox(error));
            }
          }),
      );
    } catch (error) {
      if (context.isCurrent()) results.replaceChildren(errorBox(error, () => void load()));
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void busy(submit, load);
  });
  csv.addEventListener('click', () => void exportCsv(csv, exportStatus));
  await load();
}

export const transactions: View = { id: 'transactions', title: 'Transactions', shows: () => true, render };
