// Dashboard: spend over time as an inline SVG stacked bar chart (one bar per bucket, one colour per feature),
// with the same figures as a table for screen readers and keyboard users.
import type { UsageBucket } from './api.ts';
import { featureColour } from './colours.ts';
import { h, s, table } from './dom.ts';
import { day, money, shortDay } from './format.ts';

const OTHER = '#4b5563';

const HEIGHT = 240;
const MARGIN = { top: 12, right: 8, bottom: 28, left: 64 };
/** Roughly how wide a character of the 12 px axis text is, to space the labels without measuring text. */
const CHAR_WIDTH = 7;

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

export type ChartOptions = {
  title: string;
  id: string;
  label?: (periodStart: string) => string;
  /** The figures table leaves out periods without requests or spend (the bars still span the range). */
  onlyUsedRows?: boolean;
};

type Drawing = {
  buckets: UsageBucket[];
  options: ChartOptions;
  label: (periodStart: string) => string;
  colours: Map<string, string>;
};

/**
 * The chart for an exact width in CSS pixels: drawn at 1:1 (viewBox = size), so its 12 px text stays 12 px
 * on a phone instead of being scaled down with the picture.
 */
function drawSvg({ buckets, options, label, colours }: Drawing, width: number): SVGSVGElement {
  const top = roundUp(Math.max(0, ...buckets.map((bucket) => bucket.cost)));
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const slot = plotWidth / Math.max(1, buckets.length);
  const y = (value: number) => MARGIN.top + plotHeight - (value / top) * plotHeight;
  const total = buckets.reduce((sum, bucket) => sum + bucket.cost, 0);
  const titleId = `${options.id}-title`;
  const descId = `${options.id}-desc`;

  const svg = s(
    'svg',
    {
      viewBox: `0 0 ${width} ${HEIGHT}`,
      width,
      height: HEIGHT,
      role: 'group',
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
        ? `${buckets.length} bars from ${label(buckets[0]!.period_start)} to ${label(buckets.at(-1)!.period_start)}, ${money(total)} in all. Each bar part takes focus and names its day, feature and amount; the table below lists every value.`
        : 'No spend in this period.',
    ),
  );
  for (const fraction of [0, 0.5, 1]) {
    const at = y(top * fraction);
    svg.append(
      s('line', { x1: MARGIN.left, x2: width - MARGIN.right, y1: at, y2: at, class: 'grid' }),
      s(
        'text',
        { x: MARGIN.left - 6, y: at + 4, 'text-anchor': 'end', class: 'axis' },
        money(top * fraction),
      ),
    );
  }
  // Full labels when they fit at least every third bar, else the short form; as many as fit, evenly spaced.
  const longest = (name: (start: string) => string) =>
    Math.max(0, ...buckets.map((bucket) => name(bucket.period_start).length)) * CHAR_WIDTH + 12;
  const axisText = buckets.length <= 14 && longest(label) * 3 <= plotWidth ? label : shortDay;
  const labelEvery = Math.max(
    1,
    Math.ceil(buckets.length / Math.max(1, Math.floor(plotWidth / longest(axisText)))),
  );
  buckets.forEach((bucket, i) => {
    const x = MARGIN.left + i * slot + slot * 0.15;
    const group = s('g', { 'data-period': bucket.period_start, class: 'bar' });
    let base = 0;
    const features = Object.entries(bucket.by_feature)
      .filter(([, cost]) => cost > 0)
      .sort((a, b) => (colours.get(a[0]) ?? '').localeCompare(colours.get(b[0]) ?? ''));
    for (const [feature, cost] of features) {
      const rectTop = y(base + cost);
      const name = `${label(bucket.period_start)}, ${feature}: ${money(cost)}`;
      group.append(
        s(
          'rect',
          {
            x: x.toFixed(2),
            y: rectTop.toFixed(2),
            width: Math.max(1, slot * 0.7).toFixed(2),
            height: Math.max(1, y(base) - rectTop).toFixed(2),
            fill: colours.get(feature) ?? OTHER,
            'data-feature': feature,
            'data-cost': cost,
            tabindex: 0,
            role: 'img',
            'aria-label': name,
          },
          s('title', {}, name),
        ),
      );
      base += cost;
    }
    svg.append(group);
    // Counted from the newest bucket, so the latest period is always labelled and the spacing stays even.
    if ((buckets.length - 1 - i) % labelEvery === 0) {
      const text = axisText(bucket.period_start);
      const centre = x + slot * 0.35;
      // Never past the right edge: the last label ends at the edge rather than being cut there.
      const overflows = centre + (text.length * CHAR_WIDTH) / 2 > width;
      svg.append(
        s(
          'text',
          {
            x: (overflows ? width - 1 : centre).toFixed(2),
            y: HEIGHT - 8,
            'text-anchor': overflows ? 'end' : 'middle',
            class: 'axis',
          },
          text,
        ),
      );
    }
  });
  return svg;
}

/** Draws the chart for the width its box gets, again whenever that width changes; a focused bar keeps focus. */
function fitToBox(box: HTMLElement, drawing: Drawing): void {
  const tip = h('p', { class: 'chart-tip', 'aria-hidden': 'true', hidden: true });
  let drawnWidth = 0;
  const draw = (width: number) => {
    if (width <= 0 || width === drawnWidth) return;
    drawnWidth = width;
    const focused = box.querySelector<SVGRectElement>('rect:focus');
    const again = focused
      ? `g[data-period="${focused.parentElement?.getAttribute('data-period')}"] rect[data-feature="${CSS.escape(focused.getAttribute('data-feature') ?? '')}"]`
      : null;
    tip.hidden = true;
    box.replaceChildren(drawSvg(drawing, width), tip);
    if (again) box.querySelector<SVGRectElement>(again)?.focus();
  };
  new ResizeObserver((entries) => {
    for (const entry of entries) draw(Math.floor(entry.contentRect.width));
  }).observe(box);
  const show = (event: Event) => {
    const bar = event.target;
    if (!(bar instanceof SVGRectElement) || !bar.hasAttribute('tabindex')) return;
    tip.textContent = bar.getAttribute('aria-label');
    const half = Math.min(drawnWidth / 2, (tip.textContent?.length ?? 0) * 4.5);
    const centre = bar.x.baseVal.value + bar.width.baseVal.value / 2;
    tip.style.left = `${Math.min(Math.max(centre, half), drawnWidth - half)}px`;
    tip.style.top = `${Math.max(0, bar.y.baseVal.value - 4)}px`;
    tip.hidden = false;
  };
  const hide = () => {
    tip.hidden = true;
  };
  box.addEventListener('focusin', show);
  box.addEventListener('focusout', hide);
}

export function spendChart(buckets: UsageBucket[], options: ChartOptions): HTMLElement {
  const label = options.label ?? day;
  const colours = featureColours(buckets);
  const box = h('div', { class: 'chart-box' });
  fitToBox(box, { buckets, options, label, colours });
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
      buckets
        .filter((bucket) => !options.onlyUsedRows || bucket.requests > 0 || bucket.cost > 0)
        .map((bucket) => [
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
    box,
    colours.size ? legend : h('p', { class: 'muted' }, 'No spend in this period yet.'),
    details,
  );
}
