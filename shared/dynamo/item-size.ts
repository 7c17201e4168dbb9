// DynamoDB's item size and write units, by its published rules: what the local write limiter charges a write.
//
// An item's size is the sum of its attributes' names (UTF-8 bytes) and values: a string is its UTF-8 bytes;
// a binary its raw bytes; a number 1 byte plus 1 per two significant digits (leading and trailing zeroes
// trimmed), 1 more when negative; a boolean or null 1 byte; a list or map 3 bytes plus 1 per element plus the
// elements (a map's with their names); a set the sum of its elements. One write unit covers 1 KB.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

const utf8 = new TextEncoder();
const bytesOf = (text: string) => utf8.encode(text).byteLength;

export const WRITE_UNIT_BYTES = 1024;

/** Significant digits of a number's text ("-0012.500" → 3, "1.5E+10" → 2, "0" → 0). */
function significantDigits(text: string): number {
  const mantissa = text.replace(/^[+-]/, '').split(/[eE]/)[0] ?? '';
  return mantissa.replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;
}

export function numberSize(text: string): number {
  return Math.ceil(significantDigits(text) / 2) + 1 + (text.trim().startsWith('-') ? 1 : 0);
}

const LIST_OR_MAP_OVERHEAD = 3;
const ELEMENT_OVERHEAD = 1;

export function attributeValueSize(value: AttributeValue): number {
  if (value.S !== undefined) return bytesOf(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + bytesOf(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, n) => sum + numberSize(n), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, b) => sum + b.byteLength, 0);
  if (value.L !== undefined) {
    return value.L.reduce(
      (sum, element) => sum + ELEMENT_OVERHEAD + attributeValueSize(element),
      LIST_OR_MAP_OVERHEAD,
    );
  }
  if (value.M !== undefined) {
    return Object.entries(value.M).reduce(
      (sum, [name, element]) => sum + ELEMENT_OVERHEAD + bytesOf(name) + attributeValueSize(element),
      LIST_OR_MAP_OVERHEAD,
    );
  }
  throw new Error(`unknown attribute value type: ${Object.keys(value).join(', ')}`);
}

/** The size in bytes DynamoDB counts for an item (or a key, or any map of named values). */
export function itemSize(item: Record<string, AttributeValue>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += bytesOf(name) + attributeValueSize(value);
  return size;
}

/** Write units of one item write of `bytes`: 1 per started KB, at least 1. */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES));
}
