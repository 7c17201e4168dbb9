// The low-balance alert's decision (shared/notifications/low-balance.ts), table-driven: when a check fires,
// re-arms or leaves the alert, and when it needs to read the balance at all.
import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '#shared/ledger/types.ts';
import type { Micros } from '#shared/money.ts';
import {
  type AccountBalance,
  type AlertInputs,
  type AlertState,
  accountsToCheck,
  needsBalance,
  planAlert,
} from '#shared/notifications/low-balance.ts';

const usd = (amount: number) => Math.round(amount * 1_000_000) as Micros;
const fired = (threshold: number): AlertState => ({ state: 'fired', threshold: usd(threshold), version: 3 });
const armed: AlertState = { state: 'armed', threshold: usd(5), version: 4 };
const prepaid = (available: number): AccountBalance => ({ mode: 'prepaid', available: usd(available) });

describe('planAlert', () => {
  it.each<[string, AlertInputs, AccountBalance, ReturnType<typeof planAlert>]>([
    [
      'below, never fired',
      { threshold: usd(5), alert: undefined },
      prepaid(4.99),
      { action: 'fire', threshold: usd(5), available: usd(4.99) },
    ],
    [
      'below, armed',
      { threshold: usd(5), alert: armed },
      prepaid(0),
      { action: 'fire', threshold: usd(5), available: usd(0) },
    ],
    [
      'below, fired for this threshold',
      { threshold: usd(5), alert: fired(5) },
      prepaid(1),
      { action: 'none' },
    ],
    [
      'below, fired for another threshold',
      { threshold: usd(5), alert: fired(3) },
      prepaid(4),
      { action: 'fire', threshold: usd(5), available: usd(4) },
    ],
    [
      'in debt (negative available)',
      { threshold: usd(0), alert: undefined },
      prepaid(-1),
      { action: 'fire', threshold: usd(0), available: usd(-1) },
    ],
    [
      'exactly at the threshold, never fired',
      { threshold: usd(5), alert: undefined },
      prepaid(5),
      { action: 'none' },
    ],
    [
      'exactly at the threshold, fired',
      { threshold: usd(5), alert: fired(5) },
      prepaid(5),
      { action: 'rearm' },
    ],
    ['above, fired', { threshold: usd(5), alert: fired(5) }, prepaid(10), { action: 'rearm' }],
    [
      'above, fired for another threshold',
      { threshold: usd(5), alert: fired(8) },
      prepaid(6),
      { action: 'rearm' },
    ],
    ['above, armed', { threshold: usd(5), alert: armed }, prepaid(10), { action: 'none' }],
    ['threshold 0, balance 0', { threshold: usd(0), alert: undefined }, prepaid(0), { action: 'none' }],
    ['no threshold, fired', { threshold: null, alert: fired(5) }, undefined, { action: 'rearm' }],
    ['no threshold, armed', { threshold: null, alert: armed }, undefined, { action: 'none' }],
    ['no threshold, never fired', { threshold: null, alert: undefined }, undefined, { action: 'none' }],
    [
      'postpaid',
      { threshold: usd(5), alert: undefined },
      { mode: 'postpaid', available: usd(0) },
      { action: 'none' },
    ],
    [
      'marketplace',
      { threshold: usd(5), alert: fired(5) },
      { mode: 'marketplace', available: usd(100) },
      { action: 'none' },
    ],
    [
      'an AWS Marketplace contract below the threshold (its balance is debited like prepaid)',
      { threshold: usd(5), alert: undefined },
      { mode: 'marketplace_contract', available: usd(2) },
      { action: 'fire', threshold: usd(5), available: usd(2) },
    ],
    ['no account', { threshold: usd(5), alert: undefined }, undefined, { action: 'none' }],
  ])('%s', (_, inputs, balance, step) => {
    expect(planAlert(inputs, balance)).toEqual(step);
  });

  it('reads a balance only for an account with a threshold', () => {
    expect(needsBalance({ threshold: usd(5), alert: undefined })).toBe(true);
    expect(needsBalance({ threshold: usd(0), alert: fired(0) })).toBe(true);
    expect(needsBalance({ threshold: null, alert: fired(5) })).toBe(false);
    expect(needsBalance({ threshold: null, alert: undefined })).toBe(false);
  });
});

describe('accountsToCheck', () => {
  const entry = (account_id: string, amount: number) => ({ account_id, amount }) as LedgerEntry;

  it('lists each account whose entries moved money once, in order, and none with only accrued entries', () => {
    const entries = [entry('b', -10), entry('a', 0), entry('c', 5), entry('b', -3), entry('a', 0)];

    expect(accountsToCheck(entries)).toEqual(['b', 'c']);
  });
});
