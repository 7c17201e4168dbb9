// Dashboard › Usage: spend and requests by day, week or month, for every feature or one, every token or one.
import { answer, client, type Token } from '../api.ts';
import { spendChart } from '../chart.ts';
import { field, h } from '../dom.ts';
import { day, daysAgo, money } from '../format.ts';
import { busy, errorBox, fieldProblem, loading, page, section, type View, type ViewContext } from '../ui.ts';

type Step = 'day' | 'week' | 'month';

/** The default range per step: about a month of days, a quarter of weeks, a year of months. */
const defaultDays: Record<Step, number> = { day: 29, week: 7 * 12 - 1, month: 364 };
/** The longest range the API answers per step (functions/account/usage.ts), checked here first. */
const maxDays: Record<Step, number> = { day: 366, week: 3 * 366, month: 10 * 366 };

/** What is wrong with the range, said next to the field it concerns, before asking the server. */
function checkRange(step: Step, begin: HTMLInputElement, end: HTMLInputElement): boolean {
  fieldProblem(begin, begin.value ? null : 'Choose the first day of the range.');
  fieldProblem(end, end.value ? null : 'Choose the last day of the range.');
  if (!begin.value || !end.value) return false;
  if (end.value < begin.value) {
    fieldProblem(end, `The range ends before it begins: choose a day on or after ${day(begin.value)}.`);
    return false;
  }
  const days = (Date.parse(end.value) - Date.parse(begin.value)) / 86_400_000 + 1;
  if (days > maxDays[step]) {
    fieldProblem(
      end,
      `Grouped by ${step}, a range covers at most ${maxDays[step]} days: choose a closer end.`,
    );
    return false;
  }
  return true;
}

function periodLabel(step: Step): (start: string) => string {
  if (step === 'week') return (start) => `Week of ${day(start)}`;
  if (step === 'month')
    return (start) =>
      new Date(`${start}T00:00:00Z`).toLocaleDateString('en-US', {
        month: 'short',
        year: 'numeric',
        timeZone: 'UTC',
      });
  return day;
}

async function tokenChoices(): Promise<Token[] | undefined> {
  try {
    return (await answer(client.GET('/v1/tokens'))).data;
  } catch {
    // An api-scoped token cannot list tokens; the filter then takes a typed token id.
    return undefined;
  }
}

async function render(context: ViewContext): Promise<void> {
  // The previous view must not stay on screen while the token filter's choices are read.
  page(context, 'Usage', loading('usage'));
  const tokens = await tokenChoices();
  if (!context.isCurrent()) return;
  const step = h(
    'select',
    { id: 'usage-step' },
    h('option', { value: 'day' }, 'Day'),
    h('option', { value: 'week' }, 'Week'),
    h('option', { value: 'month' }, 'Month'),
  );
  const begin = h('input', { type: 'date', id: 'usage-begin', value: daysAgo(defaultDays.day) });
  const end = h('input', { type: 'date', id: 'usage-end', value: daysAgo(0) });
  const feature = h('input', {
    id: 'usage-feature',
    list: 'usage-features',
    autocomplete: 'off',
    placeholder: 'All features',
  });
  const features = h('datalist', { id: 'usage-features' });
  const token = tokens
    ? h(
        'select',
        { id: 'usage-token' },
        h('option', { value: '' }, 'All tokens'),
        ...tokens.map((t) => h('option', { value: t.id }, `${t.name} (${t.prefix})`)),
      )
    : h('input', { id: 'usage-token', autocomplete: 'off', placeholder: 'All tokens' });
  step.addEventListener('change', () => {
    begin.value = daysAgo(defaultDays[step.value as Step]);
    end.value = daysAgo(0);
  });
  const submit = h('button', { type: 'submit' }, 'Show usage');
  const results = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'filters' },
    field('Group by', step),
    field('From', begin),
    field('To', end),
    field('Feature', feature),
    features,
    field('Token', token),
    h('div', { class: 'field' }, submit),
  );
  const knownFeatures = new Set<string>();
  const load = async () => {
    if (!checkRange(step.value as Step, begin, end)) {
      form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    const tokenId = token.value.trim();
    const query = {
      step: step.value as Step,
      begin: begin.value,
      end: end.value,
      ...(feature.value.trim() ? { feature: feature.value.trim() } : {}),
      ...(tokenId ? { token_id: tokenId } : {}),
    };
    // Say which token the figures are for, so a filtered total is never read as the account's.
    const tokenName = tokenId ? (tokens?.find((t) => t.id === tokenId)?.name ?? tokenId) : '';
    results.replaceChildren(loading('usage'));
    try {
      const usage = await answer(client.GET('/v1/usage', { params: { query } }));
      if (!context.isCurrent()) return;
      for (const bucket of usage.data)
        for (const name of Object.keys(bucket.by_feature)) knownFeatures.add(name);
      features.replaceChildren(...[...knownFeatures].sort().map((name) => h('option', { value: name })));
      const requests = usage.data.reduce((sum, bucket) => sum + bucket.requests, 0);
      const cost = usage.data.reduce((sum, bucket) => sum + bucket.cost, 0);
      const chart = spendChart(usage.data, {
        title: `Spend by ${step.value}${feature.value.trim() ? `, feature ${feature.value.trim()}` : ''}${tokenName ? `, token ${tokenName}` : ''}`,
        id: 'usage-chart',
        label: periodLabel(step.value as Step),
        onlyUsedRows: true,
      });
      chart.querySelector('details')?.setAttribute('open', '');
      const used = usage.data.some((bucket) => bucket.requests > 0 || bucket.cost > 0);
      results.replaceChildren(
        h(
          'p',
          { id: 'usage-total' },
          `${requests} requests, ${money(cost)} from ${day(begin.value)} to ${day(end.value)} (UTC)${tokenName ? ` for the token ${tokenName}` : ''}.`,
        ),
        // Rows of $0.00 say nothing: the table lists the periods with usage, or says there are none.
        used ? chart : h('p', { class: 'muted', id: 'usage-empty' }, 'No usage in this range.'),
      );
    } catch (error) {
      if (context.isCurrent()) results.replaceChildren(errorBox(error, () => void load()));
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void busy(submit, load);
  });
  page(context, 'Usage', section('Filters', form), section('Spend and requests', results));
  await load();
}

export const usage: View = { id: 'usage', title: 'Usage', shows: () => true, render };
