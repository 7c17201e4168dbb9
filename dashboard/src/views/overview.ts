// Dashboard › Overview: what the account has (or has used this month), the warnings that need the customer
// (balance under a threshold, auto-refill paused, a limit reached, an invoice overdue, a Marketplace contract's
// subscription no longer active), how long the balance lasts at the recent pace, daily spend over 30 days by
// feature, and today's requests. A Marketplace contract's balance reads like a prepaid one, without buying or
// auto-refill: it is funded by the contract (views/contract.ts).
import { type AutoRefill, answer, type Credits, client, type UsageBucket } from '../api.ts';
import { type Role, roleAtLeast } from '../auth.ts';
import { spendChart } from '../chart.ts';
import { h } from '../dom.ts';
import { day, money, subscriptionNotice } from '../format.ts';
import { errorBox, loading, page, section, type View, type ViewContext } from '../ui.ts';
import { refillSummary } from './auto-refill.ts';

/** Accounts with a balance that usage is debited from: prepaid, and funded by a Marketplace contract. */
function debited(credits: Credits): boolean {
  return credits.billing_mode === 'prepaid' || credits.billing_mode === 'marketplace_contract';
}

/** Where a contract buyer buys more: the product's AWS Marketplace page (a new tab), else the contract view. */
function buyMoreAction(credits: Credits): NonNullable<Banner['action']> {
  const listing = credits.marketplace?.listing_url;
  return listing
    ? { href: listing, label: 'Buy more through AWS Marketplace', external: true }
    : { href: '#contract', label: 'See how to buy more' };
}

function figure(label: string, value: string, id: string, note?: string): HTMLElement {
  return h(
    'div',
    { class: 'figure' },
    h('dt', { class: 'figure-label' }, label),
    h('dd', { class: 'figure-value', id }, value),
    note ? h('dd', { class: 'muted' }, note) : null,
  );
}

function standing(credits: Credits): HTMLElement {
  if (credits.billing_mode === 'marketplace') {
    return section(
      'Billing',
      h(
        'p',
        {},
        'Your usage is billed through AWS: it appears on your AWS bill under your AWS Marketplace subscription. There are no credits to buy here.',
      ),
    );
  }
  if (credits.billing_mode === 'postpaid') {
    const used = credits.period_usage ?? 0;
    const limit = credits.monthly_spend_limit ?? null;
    const figures = h(
      'dl',
      { class: 'figures' },
      figure(`Used in ${credits.period ?? 'this month'}`, money(used), 'period-usage'),
      figure('Monthly spend limit', limit === null ? 'No limit' : money(limit), 'spend-limit'),
    );
    let meter: HTMLElement | null = null;
    if (limit !== null && limit > 0) {
      meter = h(
        'div',
        { class: 'meter-row' },
        h(
          'label',
          { for: 'limit-meter' },
          `${Math.min(100, Math.round((used / limit) * 100))}% of the limit used`,
        ),
        h('meter', {
          id: 'limit-meter',
          min: 0,
          max: limit,
          value: Math.min(used, limit),
          optimum: 0,
          high: limit * 0.8,
        }),
      );
    }
    return section(
      'This month',
      figures,
      meter,
      h(
        'p',
        { class: 'muted' },
        'Usage is invoiced at the end of each month. ',
        h('a', { href: '#postpaid' }, 'Spend limit and invoices'),
      ),
    );
  }
  const held = credits.held ?? credits.balance - credits.available;
  return section(
    'Credits',
    h(
      'dl',
      { class: 'figures' },
      figure('Balance', money(credits.balance), 'balance'),
      figure(
        'Available',
        money(credits.available),
        'available',
        held > 0 ? `${money(held)} is reserved for requests in progress.` : undefined,
      ),
    ),
    h('p', { id: 'refill-line', hidden: true }),
    h('p', { id: 'pace', class: 'muted', hidden: true }),
    credits.billing_mode === 'marketplace_contract'
      ? h(
          'p',
          { id: 'contract-line' },
          'Funded by your AWS Marketplace contract. ',
          h('a', { href: '#contract' }, 'See your contract and how to buy more'),
        )
      : h(
          'p',
          {},
          h('a', { href: '#buy' }, 'Buy credits'),
          ' · ',
          h('a', { href: '#auto-refill' }, 'Auto-refill'),
        ),
  );
}

type Banner = {
  id: string;
  urgent: boolean;
  text: string;
  /** `external`: Stripe's page, opened in a new tab so the dashboard stays where it was. */
  action?: { href: string; label: string; external?: boolean };
};

/** A warning the customer should act on: `alert` when calls are (or are about to be) refused, else `status`. */
function banner(item: Banner): HTMLElement {
  return h(
    'div',
    {
      class: `banner ${item.urgent ? 'error' : 'notice'}`,
      role: item.urgent ? 'alert' : 'status',
      id: item.id,
    },
    h(
      'p',
      {},
      item.text,
      item.action
        ? h(
            'span',
            {},
            ' ',
            h(
              'a',
              item.action.external
                ? { href: item.action.href, target: '_blank', rel: 'noopener noreferrer' }
                : { href: item.action.href },
              item.action.label,
            ),
          )
        : null,
    ),
  );
}

/** The reads a warning needs; each may fail alone (`undefined`), which only drops its warnings. */
async function optional<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch {
    return undefined;
  }
}

async function warnings(
  credits: Credits,
  role: Role | undefined,
): Promise<{ banners: Banner[]; refill?: AutoRefill; unread: boolean }> {
  const banners: Banner[] = [];
  const prepaid = credits.billing_mode === 'prepaid';
  const postpaid = credits.billing_mode === 'postpaid';
  const contract = credits.billing_mode === 'marketplace_contract';
  // A member reads only what their role may (the API's route table); a billing token reads everything.
  const may = (needed: Role) => !role || roleAtLeast(role, needed);
  const readsRefill = prepaid && may('billing');
  // The low-balance alert applies to every debited balance; a contract account has no auto-refill to read.
  const readsNotify = debited(credits) && may('billing');
  const readsTokens = may('owner');
  const [refill, notify, tokens, invoices] = await Promise.all([
    readsRefill ? optional(answer(client.GET('/v1/billing/auto-refill'))) : undefined,
    readsNotify ? optional(answer(client.GET('/v1/notifications'))) : undefined,
    readsTokens ? optional(answer(client.GET('/v1/tokens'))) : undefined,
    postpaid ? optional(answer(client.GET('/v1/billing/invoices'))) : undefined,
  ]);
  const unread =
    (readsRefill && refill === undefined) ||
    (readsNotify && notify === undefined) ||
    (readsTokens && tokens === undefined) ||
    (postpaid && invoices === undefined);
  if (refill?.status === 'suspended') {
    const topUp = refill.last_attempt?.top_up_url;
    banners.push({
      id: 'warn-refill-suspended',
      urgent: true,
      text: `Auto-refill is paused${refill.suspended_reason ? `: ${refill.suspended_reason}` : ''}. Your balance is no longer topped up automatically.`,
      action: topUp
        ? { href: topUp, label: 'Confirm the payment and top up' }
        : { href: '#auto-refill', label: 'Fix auto-refill' },
    });
  }
  if (
    refill?.status === 'active' &&
    refill.enabled &&
    refill.threshold !== null &&
    credits.available < refill.threshold
  ) {
    banners.push({
      id: 'warn-refill-threshold',
      urgent: false,
      text: `Your available balance of ${money(credits.available)} is under the auto-refill threshold of ${money(refill.threshold)}: a refill${refill.amount === null ? '' : ` of ${money(refill.amount)}`} is on its way.`,
      action: { href: '#auto-refill', label: 'See auto-refill' },
    });
  }
  const alertAt = notify?.low_balance_threshold ?? null;
  if (alertAt !== null && credits.available < alertAt) {
    banners.push({
      id: 'warn-low-balance',
      urgent: credits.available <= 0,
      text: `Your available balance of ${money(credits.available)} is under your alert threshold of ${money(alertAt)}.`,
      action: contract ? buyMoreAction(credits) : { href: '#buy', label: 'Buy credits' },
    });
  }
  const ended = contract ? subscriptionNotice(credits.subscription_status) : null;
  if (ended) {
    banners.push({
      id: 'warn-contract-status',
      urgent: false,
      text: ended,
      action: { href: '#contract', label: 'See your contract' },
    });
  }
  if (postpaid) {
    const limit = credits.monthly_spend_limit ?? null;
    // Calls are refused once the next one would pass the limit; at the limit itself, say so plainly.
    if (limit !== null && (credits.period_usage ?? 0) >= limit) {
      banners.push({
        id: 'warn-spend-limit',
        urgent: true,
        text: 'Your monthly spend limit is reached: API calls are refused (402, spend_limit_reached) until next month or until you raise the limit.',
        action: { href: '#postpaid', label: 'Raise the limit' },
      });
    }
  }
  for (const token of tokens?.data ?? []) {
    if (token.usage.remaining !== 0 || !token.spend_limit) continue;
    const reset =
      token.spend_limit.reset === 'never' ? '' : ` until its ${token.spend_limit.reset} period ends`;
    banners.push({
      id: `warn-token-${token.id}`,
      urgent: true,
      text: `The token "${token.name}" has spent its limit of ${money(token.spend_limit.amount)}: calls with it are refused (402, token_limit_reached)${reset}.`,
      action: { href: '#tokens', label: 'Change its limit' },
    });
  }
  for (const invoice of invoices?.data ?? []) {
    if (!invoice.overdue) continue;
    banners.push({
      id: `warn-invoice-${invoice.id}`,
      urgent: true,
      text: `The ${invoice.period} invoice of ${money(invoice.amount)} is overdue${invoice.due_date ? ` (due ${day(invoice.due_date)})` : ''}: API calls may be refused (invoice_overdue) until it is paid.`,
      action: invoice.hosted_invoice_url
        ? { href: invoice.hosted_invoice_url, label: `Pay the ${invoice.period} invoice`, external: true }
        : { href: '#postpaid', label: 'See invoices' },
    });
  }
  return { banners, ...(refill ? { refill } : {}), unread };
}

/**
 * "At the last 7 days' pace your balance lasts about N days": the last seven daily buckets (today included),
 * averaged; nothing when there was no spend, or when the account has no balance to run out of.
 */
export function paceText(credits: Credits, buckets: UsageBucket[]): string | null {
  if (!debited(credits)) return null;
  const spent = buckets.slice(-7).reduce((sum, bucket) => sum + bucket.cost, 0);
  if (!(spent > 0)) return null;
  const perDay = spent / 7;
  const days = Math.floor(Math.max(0, credits.available) / perDay);
  if (days < 1)
    return `At the last 7 days' pace (about ${money(round2(perDay))} a day), your balance lasts less than a day.`;
  return `At the last 7 days' pace (about ${money(round2(perDay))} a day), your balance lasts about ${days.toLocaleString('en-US')} ${days === 1 ? 'day' : 'days'}.`;
}

/** A daily average reads in cents (never below one); the exact figures are in the table. */
function round2(amount: number): number {
  return Math.max(0.01, Math.round(amount * 100) / 100);
}

async function render(context: ViewContext): Promise<void> {
  const credits = await context.refreshCredits();
  // Moved to another view (or signed out) while the balance was read: this view must not draw over it.
  if (!context.isCurrent()) return;
  const spend = section('Daily spend, last 30 days', loading('spend'));
  const today = section('Today', loading("today's requests"));
  const alerts = h('div', { id: 'overview-warnings', class: 'stack', hidden: true });
  page(context, 'Overview', alerts, standing(credits), spend, today);
  const drawWarnings = async () => {
    const found = await warnings(credits, context.role);
    if (!context.isCurrent()) return;
    alerts.replaceChildren(
      ...found.banners.map(banner),
      found.unread
        ? h('p', { class: 'muted', id: 'warnings-unread' }, 'Some warnings could not be checked just now.')
        : '',
    );
    alerts.hidden = alerts.childElementCount === 0;
    const line = document.getElementById('refill-line');
    if (line && found.refill) {
      line.textContent = refillSummary(found.refill);
      line.hidden = false;
    }
  };
  const drawUsage = async () => {
    try {
      const usage = await answer(client.GET('/v1/usage', { params: { query: { step: 'day' } } }));
      if (!context.isCurrent()) return;
      spend.replaceChildren(
        spend.firstChild!,
        spendChart(usage.data, { title: 'Daily spend by feature, last 30 days (UTC)', id: 'spend-chart' }),
      );
      const pace = document.getElementById('pace');
      const estimate = paceText(credits, usage.data);
      if (pace && estimate) {
        pace.textContent = estimate;
        pace.hidden = false;
      }
      const last = usage.data.at(-1);
      today.replaceChildren(
        today.firstChild!,
        h(
          'dl',
          { class: 'figures' },
          figure('Requests today', String(last?.requests ?? 0), 'requests-today'),
          figure('Spent today', money(last?.cost ?? 0), 'spent-today'),
        ),
        h('p', { class: 'muted' }, 'Days are UTC. ', h('a', { href: '#usage' }, 'More usage')),
      );
    } catch (error) {
      if (!context.isCurrent()) return;
      spend.replaceChildren(
        spend.firstChild!,
        errorBox(error, () => void drawUsage()),
      );
      // Today's figures come from the same answer: say so rather than leave an empty card.
      today.replaceChildren(
        today.firstChild!,
        h('p', { class: 'muted', id: 'today-unread' }, "Today's requests could not be read just now."),
      );
    }
  };
  await Promise.all([drawWarnings(), drawUsage()]);
}

export const overview: View = { id: 'overview', title: 'Overview', shows: () => true, render };
