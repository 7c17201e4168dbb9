// Dashboard › Overview: what the account has (or has used this month), daily spend over 30 days by feature,
// and today's requests.
import { answer, type Credits, client } from '../api.ts';
import { spendChart } from '../chart.ts';
import { h } from '../dom.ts';
import { money } from '../format.ts';
import { errorBox, loading, page, section, type View, type ViewContext } from '../ui.ts';

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
    // Calls are refused once the next one would pass the limit; at the limit itself, say so plainly.
    const reached =
      limit !== null && used >= limit
        ? h(
            'p',
            { class: 'error', role: 'status' },
            'Your monthly spend limit is reached: API calls are refused (402, spend_limit_reached) until next month or until you raise the limit.',
          )
        : null;
    return section(
      'This month',
      figures,
      meter,
      reached,
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
    h(
      'p',
      {},
      h('a', { href: '#buy' }, 'Buy credits'),
      ' · ',
      h('a', { href: '#auto-refill' }, 'Auto-refill'),
    ),
  );
}

async function render(context: ViewContext): Promise<void> {
  const credits = await context.refreshCredits();
  const spend = section('Daily spend, last 30 days', loading('spend'));
  const today = section('Today', loading("today's requests"));
  page(context, 'Overview', standing(credits), spend, today);
  const drawUsage = async () => {
    try {
      const usage = await answer(client.GET('/v1/usage', { params: { query: { step: 'day' } } }));
      if (!context.isCurrent()) return;
      spend.replaceChildren(
        spend.firstChild!,
        spendChart(usage.data, { title: 'Daily spend by feature, last 30 days (UTC)', id: 'spend-chart' }),
      );
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
      today.replaceChildren(today.firstChild!);
    }
  };
  await drawUsage();
}

export const overview: View = { id: 'overview', title: 'Overview', shows: () => true, render };
