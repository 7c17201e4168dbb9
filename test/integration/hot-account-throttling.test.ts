// A burst of charges on one account past its partition's write limit (the local limiter, at 100 write units/s):
// a throttled charge is never a 402, its answer tells the caller to come back, and the callers that do, with
// the same Idempotency-Key, are each charged exactly once; money is conserved throughout. The limiter's clock
// stands still during the burst (so it is past the limit however slow the machine) and moves on by the
// `retry-after` the callers wait.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { type PartitionWrite, PartitionWriteLimiter, useWriteLimiter } from '#shared/dynamo/write-limiter.ts';
import { readShards, setBalanceShards } from '#shared/ledger/balance-shards.ts';
import { totalOf } from '#shared/ledger/shard-plan.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { type CallResult, call } from '../support/api.ts';

const LIMIT = 100; // write units per second per partition key
// A charge writes 3 items in one transaction (6 units): 180 units, nearly two seconds' worth. The account's
// Idempotency-Key records (claim, completion or release: 2 units a call) stay within their own partition's limit.
const CALLS = 30;
const ECHO_MICROS = 2_000;
const FUNDED_USD = 1;

afterEach(() => useWriteLimiter(undefined));

async function conserved(accountId: string) {
  const [account, entries] = await Promise.all([accountMoney(accountId), ledgerEntries(accountId)]);
  const usage = entries.filter((entry) => entry.type === 'usage');
  return { balance: account.balance, ledgerSum: ledgerSum(entries), usage };
}

describe('a hot account at its partition write limit', () => {
  it('answers throttled charges 503 with retry-after, never 402, and charges each retried request once', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(FUNDED_USD);
    let now = 0;
    const limiter = new PartitionWriteLimiter({ unitsPerSecond: LIMIT, now: () => now });
    useWriteLimiter(limiter);
    const requests = Array.from({ length: CALLS }, (_, i) => ({ key: randomUUID(), text: `burst ${i}` }));
    const send = (request: { key: string; text: string }) =>
      call('POST', '/v1/demo/echo', {
        token,
        body: { text: request.text },
        headers: { 'idempotency-key': request.key },
      });

    // Act: the burst
    const first = await Promise.all(requests.map(send));

    // Assess: only charged or "come back", and the money of the charged ones is all there is
    const throttled = first.filter((r) => r.status === 503);
    expect(first.filter((r) => r.status !== 200 && r.status !== 503)).toEqual([]);
    expect(throttled.length).toBeGreaterThan(0);
    for (const answer of throttled) {
      expect(answer.body).toEqual({
        error: expect.any(String),
        code: 'temporarily_unavailable',
      });
      expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    const afterBurst = await conserved(accountId);
    expect(afterBurst.usage).toHaveLength(CALLS - throttled.length);
    expect(afterBurst.balance).toBe(FUNDED_USD * 1_000_000 - afterBurst.usage.length * ECHO_MICROS);
    expect(afterBurst.ledgerSum).toBe(afterBurst.balance);

    // Act: each throttled caller comes back after retry-after with the same key, until all are answered
    const answers = new Map<string, CallResult>(requests.map((request, i) => [request.key, first[i]!]));
    for (let round = 0; round < 20; round++) {
      const waiting = requests.filter((request) => answers.get(request.key)!.status === 503);
      if (waiting.length === 0) break;
      now += 1000 * Number(answers.get(waiting[0]!.key)!.headers['retry-after']);
      const again = await Promise.all(waiting.map(send));
      for (const [i, request] of waiting.entries()) answers.set(request.key, again[i]!);
      expect(again.filter((r) => r.status !== 200 && r.status !== 503)).toEqual([]);
    }

    // Assess: every request charged once, none twice, and the balance is its ledger
    const final = [...answers.values()];
    expect(final.every((r) => r.status === 200)).toBe(true);
    const end = await conserved(accountId);
    expect(end.usage).toHaveLength(CALLS);
    expect(new Set(end.usage.map((entry) => entry.request_id))).toEqual(
      new Set(final.map((r) => r.headers['x-request-id'])),
    );
    expect(end.balance).toBe(FUNDED_USD * 1_000_000 - CALLS * ECHO_MICROS);
    expect(end.ledgerSum).toBe(end.balance);
    expect(limiter.stats().throttledRequests).toBeGreaterThan(0);
  });

  it('takes a burst of 120 charges on a 16-shard account that one shard could not, each charged once', async () => {
    // Prepare: 16 shards, the credit spread, before the limiter is on.
    const { accountId, token } = await fundedAccount(FUNDED_USD);
    await setBalanceShards(accountId, 16);
    // One call first: the token's use is recorded once per cache period, not by every call of the burst.
    expect((await call('POST', '/v1/demo/echo', { token, body: { text: 'warm' } })).status).toBe(200);
    let now = 0;
    const limiter = new PartitionWriteLimiter({ unitsPerSecond: LIMIT, now: () => now });
    useWriteLimiter(limiter);
    const requests = Array.from({ length: 120 }, (_, i) => ({ key: randomUUID(), text: `sharded ${i}` }));
    const send = (request: { key: string; text: string }) =>
      call('POST', '/v1/demo/echo', {
        token,
        body: { text: request.text },
        headers: { 'idempotency-key': request.key },
      });

    // Act: the burst, within one second of the limiter's clock (one shard takes 100 / 6 = 16 of them)
    const first = await Promise.all(requests.map(send));
    const answers = new Map<string, CallResult>(requests.map((request, i) => [request.key, first[i]!]));
    for (let round = 0; round < 20; round++) {
      const waiting = requests.filter((request) => answers.get(request.key)!.status === 503);
      if (waiting.length === 0) break;
      now += 1000;
      const again = await Promise.all(waiting.map(send));
      for (const [i, request] of waiting.entries()) answers.set(request.key, again[i]!);
    }

    // Assess: most pass at once, none refused for money, every one charged once, nothing overdrawn
    expect(first.filter((r) => r.status !== 200 && r.status !== 503)).toEqual([]);
    expect(first.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(100);
    const final = [...answers.values()];
    expect(final.every((r) => r.status === 200)).toBe(true);
    const end = await conserved(accountId);
    expect(end.usage).toHaveLength(121);
    expect(new Set(end.usage.map((entry) => entry.request_id)).size).toBe(121);
    expect(end.balance).toBe(FUNDED_USD * 1_000_000 - 121 * ECHO_MICROS);
    expect(end.ledgerSum).toBe(end.balance);
    const shards = await readShards(accountId);
    expect(shards.states.every((shard) => shard.available >= 0)).toBe(true);
    expect(totalOf(shards.states).balance).toBe(end.balance);
  });

  it("answers 503, not a 500, when releasing the throttled request's key is throttled too", async () => {
    // Prepare: a limiter that lets the key's claim through and then refuses every write.
    const { token } = await fundedAccount(FUNDED_USD);
    let claims = 1;
    class ClaimOnly extends PartitionWriteLimiter {
      override admit(writes: PartitionWrite[]): Set<string> {
        if (claims > 0 && writes.every((write) => write.partition.includes('"IDEMPOTENCY#'))) {
          claims--;
          return new Set();
        }
        return new Set(writes.map((write) => write.partition));
      }
    }
    useWriteLimiter(new ClaimOnly({ unitsPerSecond: LIMIT }));

    // Act
    const answer = await call('POST', '/v1/demo/echo', {
      token,
      body: { text: 'throttled' },
      headers: { 'idempotency-key': randomUUID() },
    });

    // Assess
    expect(answer.status).toBe(503);
    expect(answer.body.code).toBe('temporarily_unavailable');
  });
});
