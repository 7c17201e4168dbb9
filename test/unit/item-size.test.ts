// DynamoDB's item size rules, value type by value type, and the write units they make.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { attributeValueSize, itemSize, numberSize, writeUnits } from '#shared/dynamo/item-size.ts';

describe('numberSize', () => {
  it.each([
    ['0', 1],
    ['7', 2],
    ['12', 2],
    ['123', 3],
    ['-123', 4],
    ['1000000', 2], // trailing zeroes are trimmed
    ['0.0015', 2], // leading zeroes too
    ['-0012.500', 4], // "125": 2 bytes, 1 for the number, 1 for the sign
    ['12345678901234567890123456789012345678', 20], // 38 digits, the most DynamoDB keeps
    ['1.5E+10', 2],
  ])('%s takes %i bytes', (text, bytes) => {
    expect(numberSize(text)).toBe(bytes);
  });
});

describe('attributeValueSize', () => {
  const cases: [string, AttributeValue, number][] = [
    ['an ASCII string', { S: 'hello' }, 5],
    ['a string counted in UTF-8 bytes', { S: 'é€😀' }, 2 + 3 + 4],
    ['an empty string', { S: '' }, 0],
    ['a binary', { B: new Uint8Array(10) }, 10],
    ['a boolean', { BOOL: false }, 1],
    ['a null', { NULL: true }, 1],
    ['a string set', { SS: ['ab', 'cde'] }, 5],
    ['a number set', { NS: ['1', '-22'] }, 2 + 3],
    ['a binary set', { BS: [new Uint8Array(2), new Uint8Array(3)] }, 5],
    ['an empty list', { L: [] }, 3],
    ['an empty map', { M: {} }, 3],
    ['a list: 3 + 1 per element + the elements', { L: [{ S: 'ab' }, { BOOL: true }] }, 3 + 2 + 2 + 1],
    ['a map: 3 + 1 per element + names + values', { M: { ab: { S: 'xyz' }, c: { N: '5' } } }, 3 + 6 + 4],
    ['nested', { M: { l: { L: [{ M: {} }] } } }, 3 + 1 + 1 + (3 + 1 + 3)],
  ];
  it.each(cases)('%s', (_, value, bytes) => {
    expect(attributeValueSize(value)).toBe(bytes);
  });
});

describe('itemSize and writeUnits', () => {
  it('adds the attribute names to the values', () => {
    // Prepare: "PK" + "ACCOUNT#1" (2 + 9), "SK" + "ACCOUNT" (2 + 7), "balance" + 1500 (7 + 2: two significant digits)
    const item = { PK: { S: 'ACCOUNT#1' }, SK: { S: 'ACCOUNT' }, balance: { N: '1500' } };

    // Act / Assess
    expect(itemSize(item)).toBe(29);
  });

  it('charges one unit per started KB, at least one', () => {
    expect([0, 1, 1024, 1025, 2048, 400 * 1024].map(writeUnits)).toEqual([1, 1, 1, 2, 2, 400]);
  });

  it('a 1 KB item is exactly one unit, one byte more is two', () => {
    const base = { PK: { S: 'p' }, d: { S: '' } }; // "PK" + "p" + "d": 4 bytes before the padding
    const exactly = { ...base, d: { S: 'x'.repeat(1024 - 4) } };
    const over = { ...base, d: { S: 'x'.repeat(1024 - 3) } };
    expect(writeUnits(itemSize(exactly))).toBe(1);
    expect(writeUnits(itemSize(over))).toBe(2);
  });
});
