// What an account sees of its own spending: credits, usage buckets by day/week/month/year with filters, and
// the transaction history whose signed amounts and running balances add up to the balance.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resetClock, setClock } from '#shared/clock.ts';
import { accountMoney, fundedAccount, ledgerEntries } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { micros } from '../support/assertions.ts';

type Row = {
  id: string;
  type: string;
  amount: number;
  balance_after: number;
  created_at: string;
  request_id?: string;
  token_id?: string;
  feature?: string;
};

// Three days of calls across a month boundary: Fri 30 Jan, Sat 31 Jan, (nothing on Sun 1 Feb), Mon 2 Feb 2026.
const RANGE = { begin: '2026-01-30', end: '2026-02-02' };

let accountId: string;
let billing: string;
let t1: { id: string; token: string };
let t2: { id: string; token: string };
/** x-request-id of every charged call, by feature. */
const requestIds: { echo: string[]; words: string[] } = { echo: [], words: [] };

async function metered(token: string, feature: 'echo' | 'words', text: string): Promise<void> {
  const response = await call('POST', `/v1/demo/${feature}`, { token, body: { text } });
  expect(response.status).toBe(200);
  requestIds[feature].push(response.headers['x-request-id']!);
}

async function apiToken(name: string) {
  const response = await call('POST', '/v1/tokens', { token: billing, body: { name, scopes: ['api'] } });
  expect(response.status).toBe(201);
  return { id: response.body.id as string, token: response.body.token as string };
}

function usage(query: Record<string, string>) {
  return call('GET', '/v1/usage', { token: t1.token, query: { ...RANGE, ...query } });
}

beforeAll(async () => {
  try {
    setClock(new Date('2026-01-30T09:00:00Z'));
    ({ accountId, token: billing } = await fundedAccount(10, 'Monitoring'));
    t1 = await apiToken('first');
    t2 = await apiToken('second');
    setClock(new Date('2026-01-30T10:00:00Z'));
    await metered(t1.token, 'echo', 'a'); // 0.002
    await metered(t1.token, 'echo', 'b'); // 0.002
    await metered(t2.token, 'words', 'one two three'); // 3 words: 0.0003
    setClock(new Date('2026-01-31T23:59:00Z'));
    await metered(t2.token, 'echo', 'c'); // 0.002
    await metered(t1.token, 'words', 'a b'); // 2 words: 0.0002
    setClock(new Date('2026-02-02T00:01:00Z'));
    await metered(t1.token, 'echo', 'd'); // 0.002
    await metered(t2.token, 'words', 'hello world again friends'); // 4 words: 0.0004
  } finally {
    resetClock();
  }
});

afterEach(() => {
  resetClock();
});

afterAll(() => {
  resetClock();
});

const DAYS = [
  { period_start: '2026-01-30', cost: 0.0043, requests: 3, by_feature: { echo: 0.004, words: 0.0003 } },
  { period_start: '2026-01-31', cost: 0.0022, requests: 2, by_feature: { echo: 0.002, words: 0.0002 } },
  { period_start: '2026-02-01', cost: 0, requests: 0, by_feature: {} },
  { period_start: '2026-02-02', cost: 0.0024, requests: 2, by_feature: { echo: 0.002, words: 0.0004 } },
];

function totals(data: { cost: number; requests: number }[]) {
  return {
    cost: data.reduce((s, b) => s + micros(b.cost), 0),
    requests: data.reduce((s, b) => s + b.requests, 0),
  };
}

describe('GET /v1/credits', () => {
  it('answers balance, available, currency USD and billing mode prepaid', async () => {
    // Act
    const response = await call('GET', '/v1/credits', { token: t2.token });

    // Assess
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      balance: 9.9911,
      available: 9.9911,
      currency: 'USD',
      billing_mode: 'prepaid',
    });
    expect(micros(response.body.balance)).toBe((await accountMoney(accountId)).balance);
  });
});

describe('GET /v1/usage', () => {
  it('day buckets: requests, exact cost and cost by feature, an empty day included', async () => {
    // Act
    const response = await usage({ step: 'day' });

    // Assess
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ step: 'day', data: DAYS });
  });

  it('feature= keeps only that feature', async () => {
    // Act
    const response = await usage({ feature: 'words' });

    // Assess
    expect(response.body.data).toEqual([
      { period_start: '2026-01-30', cost: 0.0003, requests: 1, by_feature: { words: 0.0003 } },
      { period_start: '2026-01-31', cost: 0.0002, requests: 1, by_feature: { words: 0.0002 } },
      { period_start: '2026-02-01', cost: 0, requests: 0, by_feature: {} },
      { period_start: '2026-02-02', cost: 0.0004, requests: 1, by_feature: { words: 0.0004 } },
    ]);
  });

  it('token_id= keeps only that token', async () => {
    // Act
    const first = await usage({ token_id: t1.id });
    const second = await usage({ token_id: t2.id });

    // Assess
    expect(first.body.data).toEqual([
      { period_start: '2026-01-30', cost: 0.004, requests: 2, by_feature: { echo: 0.004 } },
      { period_start: '2026-01-31', cost: 0.0002, requests: 1, by_feature: { words: 0.0002 } },
      { period_start: '2026-02-01', cost: 0, requests: 0, by_feature: {} },
      { period_start: '2026-02-02', cost: 0.002, requests: 1, by_feature: { echo: 0.002 } },
    ]);
    const both = totals([...first.body.data, ...second.body.data]);
    expect(both).toEqual(totals(DAYS));
  });

  it('token_id= and feature= together count that token’s requests of that feature', async () => {
    // Act
    const response = await usage({ token_id: t1.id, feature: 'echo' });

    // Assess
    expect(response.body.data).toEqual([
      { period_start: '2026-01-30', cost: 0.004, requests: 2, by_feature: { echo: 0.004 } },
      { period_start: '2026-01-31', cost: 0, requests: 0, by_feature: {} },
      { period_start: '2026-02-01', cost: 0, requests: 0, by_feature: {} },
      { period_start: '2026-02-02', cost: 0.002, requests: 1, by_feature: { echo: 0.002 } },
    ]);
  });

  it('week buckets start on Monday and add up to the day totals', async () => {
    // Act
    const response = await usage({ step: 'week' });

    // Assess
    expect(response.body).toEqual({
      step: 'week',
      data: [
        { period_start: '2026-01-26', cost: 0.0065, requests: 5, by_feature: { echo: 0.006, words: 0.0005 } },
        { period_start: '2026-02-02', cost: 0.0024, requests: 2, by_feature: { echo: 0.002, words: 0.0004 } },
      ],
    });
    expect(new Date('2026-01-26T00:00:00Z').getUTCDay()).toBe(1);
    expect(totals(response.body.data)).toEqual(totals(DAYS));
  });

  it('month buckets split at the month boundary and add up to the day totals', async () => {
    // Act
    const response = await usage({ step: 'month' });

    // Assess
    expect(response.body).toEqual({
      step: 'month',
      data: [
        { period_start: '2026-01-01', cost: 0.0065, requests: 5, by_feature: { echo: 0.006, words: 0.0005 } },
        { period_start: '2026-02-01', cost: 0.0024, requests: 2, by_feature: { echo: 0.002, words: 0.0004 } },
      ],
    });
    expect(totals(response.body.data)).toEqual(totals(DAYS));
  });

  it('a year bucket holds everything and equals what was charged', async () => {
    // Act
    const response = await usage({ step: 'year' });

    // Assess
    expect(response.body).toEqual({
      step: 'year',
      data: [
        { period_start: '2026-01-01', cost: 0.0089, requests: 7, by_feature: { echo: 0.008, words: 0.0009 } },
      ],
    });
    expect(micros(response.body.data[0].cost)).toBe(10_000_000 - (await accountMoney(accountId)).balance);
  });
});

describe('GET /v1/transactions', () => {
  async function all(): Promise<Row[]> {
    const response = await call('GET', '/v1/transactions', { token: t1.token, query: { limit: '100' } });
    expect(response.status).toBe(200);
    expect(response.body.next_cursor).toBeNull();
    return response.body.data as Row[];
  }

  it('lists newest first with signed amounts, running balances that chain, and a sum equal to the balance', async () => {
    // Prepare
    const balance = (await accountMoney(accountId)).balance;

    // Act
    const rows = await all();

    // Assess
    expect(rows).toHaveLength(8);
    expect(rows.map((r) => r.type)).toEqual([...Array(7).fill('usage'), 'grant']);
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i - 1]!.created_at >= rows[i]!.created_at).toBe(true);
      expect(rows[i - 1]!.id > rows[i]!.id).toBe(true);
    }
    expect(rows.filter((r) => r.type === 'usage').every((r) => r.amount < 0)).toBe(true);
    expect(rows.at(-1)!.amount).toBe(10);
    expect(micros(rows[0]!.balance_after)).toBe(balance);
    for (let i = 0; i + 1 < rows.length; i++) {
      expect(micros(rows[i + 1]!.balance_after)).toBe(
        micros(rows[i]!.balance_after) - micros(rows[i]!.amount),
      );
    }
    expect(rows.reduce((sum, r) => sum + micros(r.amount), 0)).toBe(balance);
    expect(micros(rows.at(-1)!.balance_after)).toBe(10_000_000);
  });

  it('pages of limit=2 walk every entry exactly once, in order, ending with next_cursor null', async () => {
    // Prepare
    const expected = await all();

    // Act
    const walked: Row[] = [];
    const cursors: (string | null)[] = [];
    let cursor: string | undefined;
    do {
      const page = await call('GET', '/v1/transactions', {
        token: t1.token,
        query: { limit: '2', ...(cursor ? { cursor } : {}) },
      });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      walked.push(...page.body.data);
      cursors.push(page.body.next_cursor);
      cursor = page.body.next_cursor ?? undefined;
    } while (cursor && cursors.length < 10);

    // Assess
    expect(walked).toEqual(expected);
    expect(new Set(walked.map((r) => r.id)).size).toBe(walked.length);
    expect(cursors).toHaveLength(4);
    expect(cursors.at(-1)).toBeNull();
    expect(cursors.slice(0, -1).every((c) => typeof c === 'string')).toBe(true);
  });

  it('each usage entry records the x-request-id of the response that charged it, its token and feature', async () => {
    // Act
    const rows = await all();

    // Assess
    const usageRows = rows.filter((r) => r.type === 'usage');
    expect(
      usageRows
        .filter((r) => r.feature === 'echo')
        .map((r) => r.request_id)
        .sort(),
    ).toEqual([...requestIds.echo].sort());
    expect(
      usageRows
        .filter((r) => r.feature === 'words')
        .map((r) => r.request_id)
        .sort(),
    ).toEqual([...requestIds.words].sort());
    expect(new Set(usageRows.map((r) => r.token_id))).toEqual(new Set([t1.id, t2.id]));
    const stored = await ledgerEntries(accountId);
    for (const row of usageRows) {
      expect(stored.find((e) => e.entry_id === row.id)?.request_id).toBe(row.request_id);
    }
  });
});
