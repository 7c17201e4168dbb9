// The rate limiter's buckets on a clock the test moves: refill, burst, retry-after, the account ceiling, and
// what a sync of the shared count does to an instance's allowance (with a fake count shared by "instances").
import { afterEach, describe, expect, it } from 'vitest';
import { config, MissingConfigurationError } from '#shared/config.ts';
import { fullBucket, refill, retryAfterSeconds } from '#shared/rate-limit/bucket.ts';
import { RateLimiter, type SharedCount } from '#shared/rate-limit/limiter.ts';

const five = { rps: 5, burst: 5 };
const token = (limit = five) => [{ key: 'TOKEN#t', limit }];

/** Admits `n` requests at `nowMs` and answers how many got through. */
function burst(
  limiter: RateLimiter,
  subjects: Parameters<RateLimiter['admit']>[0],
  n: number,
  nowMs: number,
  share?: boolean,
) {
  let admitted = 0;
  for (let i = 0; i < n; i++) if (limiter.admit(subjects, nowMs, share).admitted) admitted++;
  return admitted;
}

/** One shared count for several limiters, as the table's item is for several instances. */
function fakeCount(): SharedCount & { totals: Map<string, number> } {
  const totals = new Map<string, number>();
  const share = async (subject: string, delta: number) => {
    const total = (totals.get(subject) ?? 0) + delta;
    totals.set(subject, total);
    return total;
  };
  return Object.assign(share, { totals });
}

describe('token bucket', () => {
  it('refills at rps up to burst, and never on a clock moved back', () => {
    const bucket = fullBucket(five, 0);
    bucket.tokens = 0;
    refill(bucket, five, 200);
    expect(bucket.tokens).toBeCloseTo(1);
    refill(bucket, five, 100);
    expect(bucket.tokens).toBeCloseTo(1);
    refill(bucket, five, 60_000);
    expect(bucket.tokens).toBe(5);
  });

  it.each([
    // tokens, rps → whole seconds until one request fits, at least 1
    [0.99, 5, 1],
    [0, 5, 1],
    [0, 0.5, 2],
    [-9, 5, 2],
    [-10, 5, 3],
    [0, 0.1, 10],
  ])('retry-after with %f tokens at %f rps is %i s', (tokens, rps, seconds) => {
    expect(retryAfterSeconds({ tokens, atMs: 0 }, { rps, burst: 1 })).toBe(seconds);
  });
});

describe('RateLimiter', () => {
  it('lets a burst through, refuses the rest with retry-after, and lets rps through again a second later', () => {
    const limiter = new RateLimiter();
    expect(burst(limiter, token(), 40, 0)).toBe(5);
    expect(limiter.admit(token(), 0)).toEqual({ admitted: false, retryAfterSeconds: 1 });
    expect(burst(limiter, token(), 40, 1000)).toBe(5);
    expect(burst(limiter, token(), 40, 1200)).toBe(1);
  });

  it('takes nothing for a refusal: refused calls do not delay the next admitted one', () => {
    const limiter = new RateLimiter();
    burst(limiter, token(), 5, 0);
    burst(limiter, token(), 1000, 100);
    expect(limiter.admit(token(), 200).admitted).toBe(true);
  });

  it("applies the account ceiling across the account's tokens, each token keeping its own bucket", () => {
    const limiter = new RateLimiter();
    const account = { key: 'ACCOUNT#a', limit: { rps: 8, burst: 8 } };
    const one = [{ key: 'TOKEN#1', limit: five }, account];
    const two = [{ key: 'TOKEN#2', limit: five }, account];
    expect(burst(limiter, one, 10, 0)).toBe(5);
    expect(burst(limiter, two, 10, 0)).toBe(3);
    // The ceiling's wait is the longest: token 2 has room, the account has none.
    expect(limiter.admit(two, 0)).toEqual({ admitted: false, retryAfterSeconds: 1 });
    expect(limiter.tokensOf('TOKEN#2')).toBe(2);
    // Another account is not touched by this one's ceiling.
    expect(
      burst(
        limiter,
        [
          { key: 'TOKEN#3', limit: five },
          { ...account, key: 'ACCOUNT#b' },
        ],
        10,
        0,
      ),
    ).toBe(5);
  });

  it("takes the other instances' admissions off its allowance at each sync, never before its first", async () => {
    // Prepare: two instances sharing one count, 10/s with bursts of 10.
    const count = fakeCount();
    const [a, b] = [new RateLimiter({ share: count }), new RateLimiter({ share: count })];
    const subjects = token({ rps: 10, burst: 10 });

    // Act: both start full, so the first second lets 2 × burst through (the documented overshoot); at 1 s each
    // syncs once, on its first admitted request, and only learns where the count stands.
    expect(burst(a, subjects, 10, 0) + burst(b, subjects, 10, 0)).toBe(20);
    expect(burst(a, subjects, 4, 1000)).toBe(4);
    await a.settled();
    expect(burst(b, subjects, 4, 1000)).toBe(4);
    await b.settled();
    expect(count.totals.get('TOKEN#t')).toBe(22);
    // At 2 s a syncs again: b's 11 added after a's baseline are taken off a's refilled bucket.
    expect(a.admit(subjects, 2000).admitted).toBe(true);
    await a.settled();

    // Assess: a owes 2 (10 refilled − 1 − 11), refuses until 0.3 s of refill, and the count holds all 26.
    expect(count.totals.get('TOKEN#t')).toBe(26);
    expect(a.tokensOf('TOKEN#t')).toBeCloseTo(-2);
    expect(a.admit(subjects, 2000)).toEqual({ admitted: false, retryAfterSeconds: 1 });
    expect(a.admit(subjects, 2299).admitted).toBe(false);
    expect(a.admit(subjects, 2300).admitted).toBe(true);
  });

  it('syncs at most once per second per subject, never for a refusal, and keeps a failed sync for the next', async () => {
    const calls: number[] = [];
    let fail = true;
    const limiter = new RateLimiter({
      share: async (_subject, delta) => {
        calls.push(delta);
        if (fail) throw new Error('throttled');
        return 100_000;
      },
      onSyncError: () => {},
    });
    const subjects = token({ rps: 1000, burst: 1000 });
    burst(limiter, subjects, 999, 0);
    burst(limiter, subjects, 10, 999);
    expect(calls).toEqual([]);
    burst(limiter, subjects, 1, 1000);
    await limiter.settled();
    expect(calls).toEqual([1010]);
    fail = false;
    // The failed 1010 are added again with the next sync, a second later.
    burst(limiter, subjects, 5, 1500);
    burst(limiter, subjects, 1, 2000);
    await limiter.settled();
    expect(calls).toEqual([1010, 1016]);

    // A refusal starts no sync, even when one is due.
    const slow = token({ rps: 0.5, burst: 1 });
    const refusing = new RateLimiter({
      share: async () => {
        calls.push(-1);
        return 1;
      },
    });
    expect(refusing.admit(slow, 0).admitted).toBe(true);
    expect(refusing.admit(slow, 1500)).toEqual({ admitted: false, retryAfterSeconds: 1 });
    await refusing.settled();
    expect(calls).toEqual([1010, 1016]);
  });

  it('shares nothing when sharing is off', async () => {
    const count = fakeCount();
    const limiter = new RateLimiter({ share: count });
    burst(limiter, token(), 5, 0);
    burst(limiter, token(), 5, 5000, false);
    await limiter.settled();
    expect(count.totals.size).toBe(0);
  });
});

describe('rate limit configuration', () => {
  const names = [
    'RATE_LIMIT_RPS',
    'RATE_LIMIT_BURST',
    'RATE_LIMIT_ACCOUNT_RPS',
    'RATE_LIMIT_ACCOUNT_BURST',
    'RATE_LIMIT_SYNC',
    'LOCAL_MODE',
  ];
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("defaults to the contract's 50/s bursts of 100 per token, 200/400 per account, shared in the cloud", () => {
    for (const name of names) delete process.env[name];
    expect(config.rateLimit).toEqual({ rps: 50, burst: 100 });
    expect(config.accountRateLimit).toEqual({ rps: 200, burst: 400 });
    expect(config.rateLimitSync).toBe('table');
    process.env.LOCAL_MODE = 'true';
    expect(config.rateLimitSync).toBe('off');
  });

  it.each([
    ['RATE_LIMIT_RPS', '0', () => config.rateLimit],
    ['RATE_LIMIT_RPS', 'fast', () => config.rateLimit],
    ['RATE_LIMIT_BURST', '2.5', () => config.rateLimit],
    ['RATE_LIMIT_ACCOUNT_BURST', '0', () => config.accountRateLimit],
    ['RATE_LIMIT_SYNC', 'sometimes', () => config.rateLimitSync],
  ])('fails fast on %s=%s, naming it', (name, value, read) => {
    process.env[name] = value;
    expect(read).toThrow(MissingConfigurationError);
    expect(read).toThrow(name);
  });
});
