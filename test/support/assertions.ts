// Assertions the integration tests share: the contract's error body, money snapshots, idempotency records
// and the billing events local mode collects.
import { expect } from 'vitest';
import type { BillingEvent, BillingEventType } from '#shared/events/outbox.ts';
import { type IdempotencyRecord, readKey } from '#shared/idempotency/store.ts';
import { sha256Hex } from '#shared/ids.ts';
import { accountMoney, ledgerEntries } from './accounts.ts';
import type { CallResult } from './api.ts';
import { deliverRecordedEvents } from './stream.ts';

export const REQUEST_ID = /^req_[0-9A-HJKMNP-TV-Z]{26}$/;

/** Words that would betray an implementation detail (stack frames, class names, table keys). */
const INTERNALS =
  /\.ts\b|\.js\b|node_modules|\n\s+at\s|\bat\s+\S+\s+\(|[A-Za-z]+Error\b|Exception|Zod|Dynamo|ACCOUNT#|TOKEN#|LEDGER#|IDEMPOTENCY#|\bstack\b/;

/**
 * The contract's error answer: `{error, code, details?}` and nothing else, JSON, with `x-request-id`, and no
 * stack trace or internal name anywhere in it. `details` (400s) is a non-empty list of field problems.
 */
export function expectContractError(
  response: CallResult,
  status: number,
  code: string,
  options: { details?: boolean; field?: string } = {},
): void {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.headers['content-type']).toBe('application/json');
  expect(response.headers['x-request-id']).toMatch(REQUEST_ID);
  const body = response.body as Record<string, unknown>;
  expect(body.code).toBe(code);
  expect(typeof body.error).toBe('string');
  expect((body.error as string).length).toBeGreaterThan(0);
  const allowed = options.details ? ['code', 'details', 'error'] : ['code', 'error'];
  expect(Object.keys(body).sort()).toEqual(allowed);
  if (options.details) {
    const details = body.details as { field: unknown; problem: unknown }[];
    expect(Array.isArray(details)).toBe(true);
    expect(details.length).toBeGreaterThan(0);
    for (const problem of details) {
      expect(Object.keys(problem).sort()).toEqual(['field', 'problem']);
      expect(typeof problem.field).toBe('string');
      expect(typeof problem.problem).toBe('string');
    }
    if (options.field) expect(details.map((d) => d.field)).toContain(options.field);
  }
  expect(JSON.stringify(body)).not.toMatch(INTERNALS);
}

/** Everything about an account's money that a request could change. */
export async function moneySnapshot(accountId: string) {
  const account = await accountMoney(accountId);
  const entries = await ledgerEntries(accountId);
  return {
    balance: account.balance,
    held: account.held,
    available: account.available,
    entry_count: account.entry_count,
    ledger_entries: entries.length,
  };
}

/** A wire amount (USD, at most six decimals) as exact integer micro-USD, for arithmetic without float drift. */
export function micros(usd: number): number {
  return Math.round(usd * 1_000_000);
}

/** The stored idempotency record of `key` in `scope` (an account id, or `admin`), if any. */
export function idempotencyRecord(scope: string, key: string): Promise<IdempotencyRecord | undefined> {
  return readKey(scope, sha256Hex(key));
}

/**
 * The billing events delivered for an account, oldest first, once every event recorded so far has gone
 * through the table's stream to the in-memory sink (test/support/stream.ts).
 */
export async function eventsOf(accountId: string, type?: BillingEventType): Promise<BillingEvent[]> {
  await deliverRecordedEvents();
  const all = (globalThis as { __localEvents?: BillingEvent[] }).__localEvents ?? [];
  return all.filter((event) => event.account_id === accountId && (type === undefined || event.type === type));
}
