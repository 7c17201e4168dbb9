// Stripe emulator: `expand[]`. Each dotted path replaces an id with the object it names (up to four levels,
// `data.` first for lists), on the copy being answered, never on the stored object.
import { invalidRequest } from './errors.ts';
import { snapshot } from './events.ts';
import { findById, type Store } from './store.ts';

type Node = Record<string, unknown>;

/** Fields that Stripe only includes when expanded (a Checkout Session's `line_items`). */
export type VirtualFields = (node: Node, field: string) => unknown;

function cannotExpand(path: string): never {
  throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
}

function expandPath(
  store: Store,
  node: unknown,
  parts: string[],
  path: string,
  virtual: VirtualFields,
): void {
  if (Array.isArray(node)) {
    for (const item of node) expandPath(store, item, parts, path, virtual);
    return;
  }
  const [field, ...rest] = parts;
  if (field === undefined || node === null || typeof node !== 'object') return;
  const object = node as Node;
  let value = object[field];
  if (value === undefined) {
    value = virtual(object, field);
    if (value === undefined) cannotExpand(path);
    object[field] = value;
  } else if (typeof value === 'string') {
    const found = findById(store, value);
    if (!found) cannotExpand(path);
    value = snapshot(found);
    object[field] = value;
  }
  if (rest.length > 0 && value !== null) expandPath(store, value, rest, path, virtual);
}

/** Applies `paths` to `answer` (a wire copy), as Stripe does for `expand[]`. */
export function expand(store: Store, answer: unknown, paths: string[], virtual: VirtualFields): unknown {
  for (const path of paths) {
    const parts = path.split('.');
    if (parts.length > 4) {
      throw invalidRequest(`You cannot expand more than 4 levels of a property. Property: ${path}`, {
        param: 'expand',
      });
    }
    expandPath(store, answer, parts, path, virtual);
  }
  return answer;
}
