// Stripe emulator: the wire format. Requests are `application/x-www-form-urlencoded` with bracketed keys
// (`metadata[account_id]=x`, `expand[0]=customer`), every value a string; this turns them into nested
// objects and reads them back with Stripe's own validation errors.
import { invalidRequest } from './errors.ts';

export type FormValue = string | FormObject;
export type FormObject = { [key: string]: FormValue };

/** Splits `a[b][0]` into `['a', 'b', '0']`; a key with unbalanced brackets is taken literally. */
function keyPath(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const parts = [key.slice(0, open)];
  const rest = key.slice(open);
  const segment = /\[([^[\]]*)\]/y;
  let index = 0;
  while (index < rest.length) {
    segment.lastIndex = index;
    const match = segment.exec(rest);
    if (!match) return [key];
    parts.push(match[1]!);
    index = segment.lastIndex;
  }
  return parts;
}

/**
 * Parses a query string or form body. Arrays stay objects keyed by index (`a[0]`, `a[1]`; `a[]` appends)
 * until a reader asks for a list, because a metadata key may look like a number too.
 */
export function parseForm(text: string): FormObject {
  const root: FormObject = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const path = keyPath(key);
    let node = root;
    for (let i = 0; i < path.length; i++) {
      let part = path[i]!;
      if (part === '') part = String(Object.keys(node).length);
      if (i === path.length - 1) {
        node[part] = value;
        break;
      }
      const next = node[part];
      if (typeof next === 'object') {
        node = next;
      } else {
        const created: FormObject = {};
        node[part] = created;
        node = created;
      }
    }
  }
  return root;
}

const INTEGER = /^-?\d+$/;

/**
 * Typed access to one level of parameters, raising the errors Stripe raises (`parameter_unknown`,
 * `parameter_missing`, invalid integer...) with the bracketed parameter name in `param`.
 */
export class ParamReader {
  readonly value: FormObject;
  readonly path: string;

  constructor(value: FormObject, path = '') {
    this.value = value;
    this.path = path;
  }

  name(key: string): string {
    return this.path ? `${this.path}[${key}]` : key;
  }

  has(key: string): boolean {
    return this.value[key] !== undefined;
  }

  /** Refuses parameters outside `keys` (plus `expand`), as Stripe refuses unknown ones. */
  allow<T>(keys: readonly (keyof T & string)[]): void {
    for (const key of Object.keys(this.value)) {
      if (key === 'expand' || (keys as readonly string[]).includes(key)) continue;
      throw invalidRequest(`Received unknown parameter: ${this.name(key)}`, {
        param: this.name(key),
        code: 'parameter_unknown',
        detail: `The local Stripe emulator accepts here: ${keys.join(', ') || '(none)'}.`,
      });
    }
  }

  string(key: string): string | undefined {
    const value = this.value[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      throw invalidRequest(`Invalid string: ${JSON.stringify(value)}`, { param: this.name(key) });
    }
    return value;
  }

  requiredString(key: string): string {
    const value = this.string(key);
    if (value === undefined || value === '') throw missingParam(this.name(key));
    return value;
  }

  integer(key: string, bounds: { min?: number; max?: number } = {}): number | undefined {
    const text = this.string(key);
    if (text === undefined) return undefined;
    if (!INTEGER.test(text) || !Number.isSafeInteger(Number(text))) {
      throw invalidRequest(`Invalid integer: ${text}`, {
        param: this.name(key),
        code: 'parameter_invalid_integer',
      });
    }
    const value = Number(text);
    if (bounds.min !== undefined && value < bounds.min) {
      throw invalidRequest(`This value must be greater than or equal to ${bounds.min}.`, {
        param: this.name(key),
      });
    }
    if (bounds.max !== undefined && value > bounds.max) {
      throw invalidRequest(`This value must be less than or equal to ${bounds.max}.`, {
        param: this.name(key),
      });
    }
    return value;
  }

  requiredInteger(key: string, bounds: { min?: number; max?: number } = {}): number {
    const value = this.integer(key, bounds);
    if (value === undefined) throw missingParam(this.name(key));
    return value;
  }

  boolean(key: string): boolean | undefined {
    const text = this.string(key);
    if (text === undefined) return undefined;
    if (text === 'true') return true;
    if (text === 'false') return false;
    throw invalidRequest(`Invalid boolean: ${text}`, { param: this.name(key) });
  }

  oneOf<const T extends string>(key: string, values: readonly T[]): T | undefined {
    const text = this.string(key);
    if (text === undefined) return undefined;
    if (!(values as readonly string[]).includes(text)) {
      throw invalidRequest(`Invalid ${key}: must be one of ${values.join(', ')}`, { param: this.name(key) });
    }
    return text as T;
  }

  object(key: string): ParamReader | undefined {
    const value = this.value[key];
    if (value === undefined) return undefined;
    if (typeof value === 'string') {
      throw invalidRequest(`Invalid object`, { param: this.name(key) });
    }
    return new ParamReader(value, this.name(key));
  }

  /** An indexed list (`key[0]`, `key[1]`...) of objects. */
  objectList(key: string): ParamReader[] | undefined {
    return this.list(key)?.map(({ value, name }) => {
      if (typeof value === 'string') throw invalidRequest('Invalid object', { param: name });
      return new ParamReader(value, name);
    });
  }

  stringList(key: string): string[] | undefined {
    return this.list(key)?.map(({ value, name }) => {
      if (typeof value !== 'string') throw invalidRequest('Invalid array', { param: name });
      return value;
    });
  }

  private list(key: string): { value: FormValue; name: string }[] | undefined {
    const value = this.value[key];
    if (value === undefined) return undefined;
    // `key=` is how the SDK sends an empty list.
    if (value === '') return [];
    if (typeof value === 'string' || !Object.keys(value).every((index) => INTEGER.test(index))) {
      throw invalidRequest('Invalid array', { param: this.name(key) });
    }
    return Object.keys(value)
      .sort((a, b) => Number(a) - Number(b))
      .map((index) => ({ value: value[index]!, name: `${this.name(key)}[${index}]` }));
  }

  /**
   * Metadata as Stripe validates it: at most 50 keys of up to 40 characters, values up to 500. `''` for
   * the whole object (the SDK's `metadata: ''`) means "clear all"; a key set to `''` means "remove it".
   */
  metadata(key = 'metadata'): Record<string, string> | '' | undefined {
    const value = this.value[key];
    if (value === undefined) return undefined;
    if (value === '') return '';
    if (typeof value === 'string') throw invalidRequest('Invalid object', { param: this.name(key) });
    const entries = Object.entries(value);
    if (entries.length > 50) {
      throw invalidRequest('You can specify up to 50 keys in metadata.', { param: this.name(key) });
    }
    const result: Record<string, string> = {};
    for (const [name, item] of entries) {
      const param = `${this.name(key)}[${name}]`;
      if (typeof item !== 'string')
        throw invalidRequest('Invalid string: metadata values are strings', { param });
      if (name.length > 40) {
        throw invalidRequest('Metadata keys can be at most 40 characters long.', { param });
      }
      if (item.length > 500) {
        throw invalidRequest('Metadata values can be at most 500 characters long.', { param });
      }
      result[name] = item;
    }
    return result;
  }

  /** Every path named by `expand[]`. */
  expand(): string[] {
    return this.stringList('expand') ?? [];
  }
}

export function missingParam(param: string) {
  return invalidRequest(`Missing required param: ${param}.`, { param, code: 'parameter_missing' });
}

/** Applies a metadata update the way Stripe does: merge, `''` values delete, `''` for all clears. */
export function mergeMetadata(
  current: Record<string, string>,
  update: Record<string, string> | '' | undefined,
): Record<string, string> {
  if (update === undefined) return current;
  if (update === '') return {};
  const merged = { ...current };
  for (const [key, value] of Object.entries(update)) {
    if (value === '') delete merged[key];
    else merged[key] = value;
  }
  return merged;
}
