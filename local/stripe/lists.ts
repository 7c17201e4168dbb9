// Stripe emulator: list endpoints as Stripe pages them: newest first, `limit` (1..100, default 10),
// `starting_after` / `ending_before` cursors, `{object: 'list', data, has_more, url}`.
import type Stripe from 'stripe';
import { invalidRequest } from './errors.ts';
import type { ParamReader } from './form.ts';

export function paginate<T extends { id: string }>(
  params: ParamReader,
  url: string,
  items: T[],
  filters: readonly string[] = [],
): Stripe.ApiList<T> {
  params.allow<Record<string, unknown>>([...filters, 'limit', 'starting_after', 'ending_before']);
  const limit = params.integer('limit', { min: 1, max: 100 }) ?? 10;
  const after = params.string('starting_after');
  const before = params.string('ending_before');
  const position = (cursor: string, param: string) => {
    const index = items.findIndex((item) => item.id === cursor);
    if (index < 0) throw invalidRequest(`No such object: '${cursor}'`, { param, code: 'resource_missing' });
    return index;
  };
  if (before) {
    const end = position(before, 'ending_before');
    const start = Math.max(0, end - limit);
    return { object: 'list', data: items.slice(start, end), has_more: start > 0, url };
  }
  const start = after ? position(after, 'starting_after') + 1 : 0;
  const data = items.slice(start, start + limit);
  return { object: 'list', data, has_more: start + limit < items.length, url };
}
