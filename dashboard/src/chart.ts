// Dashboard: spend over time as an inline SVG stacked bar chart (one bar per bucket, one colour per feature),
// with the same figures as a table for screen readers and keyboard users.
import type { UsageBucket } from './api.ts';
import { featureColour } from './colours.ts';
import { h, s, table } from './dom.ts';
import { day, money, shortDay } from './format.ts';

const OTHER = '#4b5563';

const WIDTH = 720;
const HEIGHT = 240;
const MARGIN = { top: 12, right: 8, bottom: 28, left: 64 };

/** The smallest 1, 2 or 5 × 10^n at or above `value`, so the axis reads in round numbers. */
function roundUp(value: number): number {
  if (value <= 0) return 0.01;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

/** Features by total spend, largest first, each in its own stable colour (colours.ts). */
function featureColours(buckets: UsageBucket[]): Map<string, string> {
  const totals = new Map<string, number>();
  for (const bucket of buckets)
    for (const [feature, cost] of Object.entries(bucket.by_feature))
      totals.set(feature, (totals.get(feature) ?? 0) + cost);
  const ranked = [...totals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([name]) => name);
  return new Map(ranked.map((feature) => [feature, featureColour(feature)])); // slice C: stable colours
}

export type ChartOptions = { title: string; id: string; label?: (periodStart: string) => string };

export function spendChart(buckets: UsageBucket[], options: ChartOptions): HTMLElement {
  const label = options.label ?? day;
  const colours = featureColours(buckets);
  const top = roundUp(Math.max(0, ...buckets.map((bucket) => bucket.cost)));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const slot = plotWidth / Math.max(1, buckets.length);
  const y = (value: number) => MARGIN.top + plotHeight - (value / top) * plotHeight;
  const total = buckets.reduce((sum, bucket) => sum + bucket.cost, 0);
  const titleId = `${options.id}-title`;
  const descId = `${options.id}-desc`;

  const svg = s(
    'svg',
    {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-labelledby': titleId,
      'aria-describedby': descId,
      class: 'chart',
      id: options.id,
    },
    s('title', { id: titleId }, options.title),
    s(
      'desc',
      { id: descId },
      total > 0
        ? `${buckets.length} bars from ${label(buckets[0]!.period_start)} to ${label(buckets.at(-1)!.period_start)}, ${money(total)} in all. The table below lists every value.`
        : 'No spend in this period.',
    ),
  );
  for (const fraction of [0, 0.5, 1]) {
    const at = y(top * fraction);
    svg.append(
      s('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: at, y2: at, class: 'grid' }),
      s(
        'text',
        { x: MARGIN.left - 6, y: at + 4, 'text-anchor': 'end', class: 'axis' },
        money(top * fraction),
      ),
    );
  }
  const labelEvery = Math.ceil(buckets.length / 6);
  buckets.forEach((bucket, i) => {
    const x = MARGIN.left + i * slot + slot * 0.15;
    const group = s('g', { 'data-period': bucket.period_start, class: 'bar' });
    let base = 0;
    const features = Object.entries(bucket.by_feature)
      .filter(([, cost]) => cost > 0)
      .sort((a, b) => (colours.get(a[0]) ?? '').localeCompare(colours.get(b[0]) ?? ''));
    for (const [feature, cost] of features) {
      const rectTop = y(base + cost);
      group.append(
        s(
          'rect',
          {
            x: x.toFixed(2),
            y: rectTop.toFixed(2),
            width: (slot * 0.7).toFixed(2),
            height: Math.max(1, y(base) - rectTop).toFixed(2),
            fill: colours.get(feature) ?? OTHER,
            'data-feature': feature,
            'data-cost': cost,
          },
          s('title', {}, `${label(bucket.period_start)}, ${feature}: ${money(cost)}`),
        ),
      );
      base += cost;
    }
    svg.append(group);
    if (i % labelEvery === 0 || i === buckets.length - 1) {
      svg.append(
        s(
          'text',
          { x: (x + slot * 0.35).toFixed(2), y: HEIGHT - 8, 'text-anchor': 'middle', class: 'axis' },
          buckets.length > 14 ? shortDay(bucket.period_start) : label(bucket.period_start),
        ),
      );
    }
  });

  const legend = h(
    'ul',
    { class: 'legend', 'aria-label': 'Features' },
    ...[...colours].map(([feature, colour]) => {
      const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      swatch.style.backgroundColor = colour;
      return h('li', {}, swatch, feature);
    }),
  );
  const featureNames = [...colours.keys()];
  const details = h(
    'details',
    {},
    h('summary', {}, 'Show the figures as a table'),
    table(
      options.title,
      ['Period', 'Requests', 'Cost', ...featureNames],
      buckets.map((bucket) => [
        label(bucket.period_start),
        bucket.requests,
        money(bucket.cost),
        ...featureNames.map((feature) => money(bucket.by_feature[feature] ?? 0)),
      ]),
    ),
  );
  return h(
    'figure',
    { class: 'chart-figure' },
    svg,
    colours.size ? legend : h('p', { class: 'muted' }, 'No spend in this period yet.'),
    details,
  );
}
