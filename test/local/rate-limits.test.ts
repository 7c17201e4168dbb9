// The local stack's rate limits over HTTP (`npm start` runs one process, so its buckets alone are exact): a
// burst of 40 with RATE_LIMIT_RPS=5 RATE_LIMIT_BURST=5 gets 5 answers and 35 × 429 with retry-after on the
// wire, and the demo account is charged for the 5 only.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freezeClock, resetClock } from '#shared/clock.ts';
import { fromWire } from '#shared/money.ts';
import { rateLimiter } from '#shared/rate-limit/enforce.ts';
import { accountMoney } from '../support/accounts.ts';
import { stackClient } from '../support/http.ts';
import { useLocalStack } from '../support/stack.ts';

const ADMIN_KEY = 'rate-limits-admin-key';
const stack = useLocalStack('rate-limits', {
  adminApiKey: ADMIN_KEY,
  seedDemo: true,
  rateLimits: { RATE_LIMIT_RPS: 5, RATE_LIMIT_BURST: 5 },
});
const http = stackClient(() => stack().url, ADMIN_KEY);

beforeEach(() => {
  rateLimiter.clear();
  freezeClock(new Date('2026-12-02T10:00:00Z'));
});

afterEach(() => {
  resetClock();
  rateLimiter.clear();
});

describe('rate limits on the local stack', () => {
  it('answers a burst of 40 with 5 charges and 35 × 429 rate_limited with retry-after', async () => {
    // Prepare
    const { accountId, token } = stack().demo!;
    const before = await accountMoney(accountId);
    expect(stack().rateLimits.token).toEqual({ rps: 5, burst: 5 });

    // Act
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => http('POST', '/v1/demo/echo', { token, body: { text: 'hi' } })),
    );

    // Assess
    const refused = answers.filter((answer) => answer.status === 429);
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(5);
    expect(refused).toHaveLength(35);
    for (const answer of refused) {
      expect(answer.body).toEqual({ error: expect.any(String), code: 'rate_limited' });
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(answer.headers.get('x-request-id')).toMatch(/^req_/);
    }
    expect((await accountMoney(accountId)).balance).toBe(before.balance - fromWire(5 * 0.002));
  });
});
