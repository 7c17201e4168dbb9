// Signed pagination cursors: the transactions cursor carries a running balance, so only a cursor this
// deployment signed for this account is read; any change to it, or another deployment's key, is a 400.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signCursor } from '#shared/http/cursor.ts';
import { fundedAccount } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { expectContractError } from '../support/assertions.ts';

let account: { accountId: string; token: string };
const ownKey = process.env.CURSOR_KEY;

beforeAll(async () => {
  account = await fundedAccount(1, 'Cursor owner');
  for (const text of ['one', 'two', 'three', 'four']) {
    const echo = await call('POST', '/v1/demo/echo', { token: account.token, body: { text } });
    expect(echo.status).toBe(200);
  }
});

afterEach(() => {
  process.env.CURSOR_KEY = ownKey;
});

function page(cursor?: string, limit = '2') {
  return call('GET', '/v1/transactions', {
    token: account.token,
    query: { limit, ...(cursor ? { cursor } : {}) },
  });
}

/** Rewrites the JSON a cursor carries (before its signature, if it has one), keeping everything else. */
function tampered(cursor: string, change: (value: Record<string, unknown>) => void): string {
  const [payload, ...rest] = cursor.split('.');
  const value = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
  change(value);
  return [Buffer.from(JSON.stringify(value)).toString('base64url'), ...rest].join('.');
}

describe('transactions cursor', () => {
  it('walks every entry across pages, each balance_after the one below it plus its amount', async () => {
    // Act
    const first = await page();
    const second = await page(first.body.next_cursor);
    const third = await page(second.body.next_cursor);

    // Assess
    const rows = [...first.body.data, ...second.body.data, ...third.body.data] as {
      amount: number;
      balance_after: number;
    }[];
    expect(rows).toHaveLength(5);
    expect(third.body.next_cursor).toBeNull();
    expect(rows[0]!.balance_after).toBe(0.992);
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i]!.balance_after).toBeCloseTo(rows[i - 1]!.balance_after - rows[i - 1]!.amount, 6);
    }
    expect(rows.at(-1)!.balance_after).toBe(1);
  });

  it('a tampered cursor (balance raised by $1,000,000) returns 400 naming cursor, never invented balance_after values', async () => {
    // Prepare
    const first = await page();
    const forged = tampered(first.body.next_cursor, (value) => {
      value.balance = (value.balance as number) + 1_000_000_000_000;
    });

    // Act
    const answer = await page(forged);

    // Assess
    expectContractError(answer, 400, 'invalid_request', { details: true, field: 'cursor' });
    expect(JSON.stringify(answer.body)).not.toContain('balance_after');
  });

  it.each([
    ['its signature cut off', (cursor: string) => cursor.split('.')[0]!],
    [
      'one character of its signature changed',
      (cursor: string) => `${cursor.slice(0, -1)}${cursor.endsWith('A') ? 'B' : 'A'}`,
    ],
    [
      'a starting entry moved',
      (cursor: string) =>
        tampered(cursor, (value) => {
          value.after = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
        }),
    ],
    ['a third part appended', (cursor: string) => `${cursor}.x`],
  ])('a cursor with %s is a 400 naming cursor', async (_case, change) => {
    // Prepare
    const first = await page();

    // Act
    const answer = await page(change(first.body.next_cursor as string));

    // Assess
    expectContractError(answer, 400, 'invalid_request', { details: true, field: 'cursor' });
  });

  it("a cursor signed with another deployment's key is a 400 naming cursor", async () => {
    // Prepare: the same account and values, signed under a key this deployment does not have.
    const first = await page();
    const [payload] = (first.body.next_cursor as string).split('.');
    const value = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as unknown;
    process.env.CURSOR_KEY = 'another-deployment-key-of-at-least-32-chars';
    const foreign = await signCursor(account.accountId, value);
    process.env.CURSOR_KEY = ownKey;

    // Act
    const answer = await page(foreign);

    // Assess
    expect(foreign).not.toBe(first.body.next_cursor);
    expectContractError(answer, 400, 'invalid_request', { details: true, field: 'cursor' });
  });
});
