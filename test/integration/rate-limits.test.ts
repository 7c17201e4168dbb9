// Issue 15 item 3: per-token rate limits (and the account's ceiling across its tokens) refuse with 429
// rate_limited and retry-after before any DynamoDB request, charge or feature work; the money moves only for
// the calls let through. The clock is frozen so that no bucket refills during a burst.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advanceClock, freezeClock, resetClock } from '#shared/clock.ts';
import { fromWire } from '#shared/money.ts';
import { rateLimiter } from '#shared/rate-limit/enforce.ts';
import { RateLimiter } from '#shared/rate-limit/limiter.ts';
import { addToSharedCount } from '#shared/rate-limit/shared-count.ts';
import { createToken } from '#shared/tokens/service.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { type CallResult, call } from '../support/api.ts';
import { expectContractError } from '../support/assertions.ts';
import { countCommands, restoreClient } from '../support/faults.ts';
import { useToyUpstream } from '../support/toy-process.ts';

const ECHO_USD = 0.002;
const toy = useToyUpstream();
const LIMITS = ['RATE_LIMIT_RPS', 'RATE_LIMIT_BURST', 'RATE_LIMIT_ACCOUNT_RPS', 'RATE_LIMIT_ACCOUNT_BURST'];
const lifted = Object.fromEntries(LIMITS.map((name) => [name, process.env[name]]));

function limit(settings: Partial<Record<(typeof LIMITS)[number], number>>): void {
  for (const [name, value] of Object.entries(settings)) process.env[name] = String(value);
}

beforeEach(() => {
  rateLimiter.clear();
  freezeClock(new Date('2026-12-02T10:00:00Z'));
  limit({ RATE_LIMIT_RPS: 5, RATE_LIMIT_BURST: 5 });
});

afterEach(() => {
  Object.assign(process.env, lifted);
  restoreClient();
  resetClock();
  rateLimiter.clear();
});

const echo = (token: string) => call('POST', '/v1/demo/echo', { token, body: { text: 'hi' } });

async function burst(n: number, send: () => Promise<CallResult>): Promise<CallResult[]> {
  return Promise.all(Array.from({ length: n }, send));
}

const statuses = (answers: CallResult[]) => answers.map((answer) => answer.status).sort();

describe('per-token rate limits', () => {
  it('answers a burst of 40 with RATE_LIMIT_RPS=5 RATE_LIMIT_BURST=5 with 5 charges and 35 × 429, charging only the 200s', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(1);

    // Act
    const answers = await burst(40, () => echo(token));

    // Assess: the refusals have the contract's shape and retry-after; the ledger holds the 5 charges only.
    const ok = answers.filter((answer) => answer.status === 200);
    const refused = answers.filter((answer) => answer.status === 429);
    expect(ok).toHaveLength(5);
    expect(refused).toHaveLength(35);
    for (const answer of refused) {
      expectContractError(answer, 429, 'rate_limited');
      expect(answer.headers['retry-after']).toBe('1');
    }
    const usage = (await ledgerEntries(accountId)).filter((entry) => entry.type === 'usage');
    expect(usage).toHaveLength(5);
    const account = await accountMoney(accountId);
    expect(account.balance).toBe(fromWire(1 - 5 * ECHO_USD));
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(account.balance);

    // A second later the bucket has refilled RATE_LIMIT_RPS calls.
    advanceClock(1000);
    expect(statuses(await burst(10, () => echo(token)))).toEqual([
      ...Array(5).fill(200),
      ...Array(5).fill(429),
    ]);
  });

  it('refuses without a single DynamoDB request', async () => {
    const { accountId, token } = await fundedAccount(1);
    await burst(5, () => echo(token));
    const before = await ledgerEntries(accountId);

    const counts = countCommands();
    const answers = await burst(20, () => echo(token));

    expect(new Set(answers.map((answer) => answer.status))).toEqual(new Set([429]));
    expect([...counts.entries()]).toEqual([]);
    restoreClient();
    expect(await ledgerEntries(accountId)).toEqual(before);
  });

  it("leaves the account's other tokens unaffected by one token's limit", async () => {
    const { accountId, token } = await fundedAccount(1);
    const other = (await createToken(accountId, { name: 'b', scopes: ['api'] })).token;

    const first = await burst(10, () => echo(token));
    const second = await burst(5, () => echo(other));

    expect(first.filter((answer) => answer.status === 200)).toHaveLength(5);
    expect(statuses(second)).toEqual(Array(5).fill(200));
  });

  it("leaves the account's other tokens their own buckets, under the account's ceiling", async () => {
    // Prepare: a ceiling of 8 across the account's tokens.
    limit({ RATE_LIMIT_ACCOUNT_RPS: 8, RATE_LIMIT_ACCOUNT_BURST: 8 });
    const { accountId, token } = await fundedAccount(1);
    const other = (await createToken(accountId, { name: 'b', scopes: ['api'] })).token;
    const stranger = (await fundedAccount(1)).token;

    // Act: the first token spends its 5; the second gets only the 3 the account has left.
    const first = await burst(10, () => echo(token));
    const second = await burst(10, () => echo(other));
    const third = await burst(10, () => echo(stranger));

    // Assess
    expect(first.filter((answer) => answer.status === 200)).toHaveLength(5);
    expect(second.filter((answer) => answer.status === 200)).toHaveLength(3);
    expect(third.filter((answer) => answer.status === 200)).toHaveLength(5);
  });

  it('counts every request the token authenticates, free routes included', async () => {
    const { token } = await fundedAccount(1);
    const answers = await burst(8, () => call('GET', '/v1/credits', { token }));
    expect(statuses(answers)).toEqual([...Array(5).fill(200), ...Array(3).fill(429)]);
    expectContractError(await echo(token), 429, 'rate_limited');
  });

  it("takes a token's own rate_limit, given at creation within the operator's maximum", async () => {
    limit({ RATE_LIMIT_ACCOUNT_RPS: 20, RATE_LIMIT_ACCOUNT_BURST: 40 });
    const { token } = await fundedAccount(1);

    const tooFast = await call('POST', '/v1/tokens', {
      token,
      body: { name: 'too fast', rate_limit: { rps: 21, burst: 2 } },
    });
    const fractional = await call('POST', '/v1/tokens', {
      token,
      body: { name: 'bad burst', rate_limit: { rps: 1, burst: 1.5 } },
    });
    const created = await call('POST', '/v1/tokens', {
      token,
      body: { name: 'slow', rate_limit: { rps: 0.5, burst: 2 } },
    });

    expectContractError(tooFast, 400, 'invalid_request', { details: true, field: 'rate_limit.rps' });
    expectContractError(fractional, 400, 'invalid_request', { details: true, field: 'rate_limit.burst' });
    expect(created.status).toBe(201);
    expect(created.body.rate_limit).toEqual({ rps: 0.5, burst: 2 });
    const listed = await call('GET', '/v1/tokens', { token });
    expect(listed.body.data.find((item: { id: string }) => item.id === created.body.id).rate_limit).toEqual({
      rps: 0.5,
      burst: 2,
    });
    const answers = await burst(6, () => echo(created.body.token));
    expect(statuses(answers)).toEqual([200, 200, 429, 429, 429, 429]);
    // At 0.5 per second one more call fits after 2 s.
    expect(answers.find((answer) => answer.status === 429)?.headers['retry-after']).toBe('2');
  });

  it('refuses on a proxy route before forwarding: the upstream sees only the calls let through', async () => {
    const { accountId, token } = await fundedAccount(1);

    const answers = await burst(10, () =>
      call('POST', '/v1/sample/translate', { token, body: { text: 'hello', to: 'fr' } }),
    );

    expect(statuses(answers)).toEqual([...Array(5).fill(200), ...Array(5).fill(429)]);
    expect(await toy.seenBy(accountId)).toHaveLength(5);
    expect((await accountMoney(accountId)).balance).toBe(fromWire(1 - 5 * 0.005));
  });

  it("limits the metering API's customer token, charging nothing for the refused", async () => {
    limit({ RATE_LIMIT_RPS: 2, RATE_LIMIT_BURST: 2 });
    const { accountId, token } = await fundedAccount(1);
    const service = (await call('POST', '/admin/service-keys', { body: { name: 'backend' } })).body.key;
    const charge = () =>
      call('POST', '/v1/meter/charges', {
        token: service,
        headers: { 'idempotency-key': randomUUID() },
        body: { customer_token: token, feature: 'echo' },
      });

    const answers = await burst(5, charge);

    expect(statuses(answers)).toEqual([201, 201, 429, 429, 429]);
    const usage = (await ledgerEntries(accountId)).filter((entry) => entry.type === 'usage');
    expect(usage).toHaveLength(2);
  });

  it("frees a refused hold's Idempotency-Key: the same key is served once the bucket has room", async () => {
    limit({ RATE_LIMIT_RPS: 1, RATE_LIMIT_BURST: 1 });
    const { accountId, token } = await fundedAccount(1);
    const service = (await call('POST', '/admin/service-keys', { body: { name: 'backend' } })).body.key;
    const hold = (key: string) =>
      call('POST', '/v1/meter/holds', {
        token: service,
        headers: { 'idempotency-key': key },
        body: { customer_token: token, feature: 'words', quantity: 10 },
      });
    expect((await hold(randomUUID())).status).toBe(201);

    const key = randomUUID();
    const refused = await hold(key);
    advanceClock(1000);
    const retried = await hold(key);

    expectContractError(refused, 429, 'rate_limited');
    expect(retried.status).toBe(201);
    expect((await accountMoney(accountId)).held).toBe(fromWire(2 * 10 * 0.0001));
  });
});

describe('the shared count in the table', () => {
  it('adds each instance count and answers the total, so each instance takes the others off its bucket', async () => {
    // Prepare: two "instances" sharing the table's count of one token, 10/s with bursts of 10.
    const subjects = [{ key: `TOKEN#${randomUUID()}`, limit: { rps: 10, burst: 10 } }];
    const [a, b] = [
      new RateLimiter({ share: addToSharedCount }),
      new RateLimiter({ share: addToSharedCount }),
    ];
    const admitted = (limiter: RateLimiter, n: number, at: number) =>
      Array.from({ length: n }, () => limiter.admit(subjects, at).admitted).filter(Boolean).length;

    // Act: each lets its burst through, then each syncs once (learning where the count is), a syncs again.
    admitted(a, 10, 0);
    admitted(b, 10, 0);
    admitted(a, 1, 1000);
    await a.settled();
    admitted(b, 1, 1000);
    await b.settled();
    admitted(a, 1, 2000);
    await a.settled();

    // Assess: 23 counted; a learnt b's 11 and owes them: -2 left after 10 refilled and its own one.
    expect(await addToSharedCount(subjects[0]!.key, 0)).toBe(23);
    expect(a.tokensOf(subjects[0]!.key)).toBeCloseTo(-2);
    expect(a.admit(subjects, 2000)).toEqual({ admitted: false, retryAfterSeconds: 1 });
  });
});
