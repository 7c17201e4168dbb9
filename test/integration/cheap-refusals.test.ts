// Cheap refusals (issue 15 item 4): a call refused for credits, a spend limit, a token limit or an inactive
// subscription costs one DynamoDB request (its refused transaction) and no feature work, once the
// instance has recorded the refusal's notice; a rate-limited call costs none (test/integration/rate-limits).
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { setSpendLimit } from '#shared/accounts/billing-mode.ts';
import type { ApiContext } from '#shared/http/api.ts';
import { paidFeature } from '#shared/metering/metered.ts';
import { fromWire } from '#shared/money.ts';
import { createToken } from '#shared/tokens/service.ts';
import { fundedAccount } from '../support/accounts.ts';
import { apiEvent, lambdaContext } from '../support/api.ts';
import { countCommands, restoreClient } from '../support/faults.ts';
import { marketplaceAccount } from '../support/marketplace.ts';
import { postpaidAccount } from '../support/postpaid.ts';

afterEach(() => restoreClient());

/** A fixed-price feature (the echo price) that counts its runs. */
function countingFeature() {
  const runs = { count: 0 };
  const handler = paidFeature({
    feature: 'echo',
    body: z.object({ text: z.string() }),
    results: z.object({ echo: z.string() }),
    run: ({ text }) => {
      runs.count++;
      return { results: { echo: text } };
    },
  });
  const call = async (token: string) =>
    (
      await handler(
        apiEvent('POST', '/v1/demo/echo', { token, body: { text: 'hi' } }),
        lambdaContext() as ApiContext,
      )
    ).statusCode;
  return { runs, call };
}

/** Five refusals after the first (which records the notice): the DynamoDB requests they sent, by command. */
async function refusalsCost(call: () => Promise<number>, status: number) {
  expect(await call()).toBe(status);
  const counts = countCommands();
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push(await call());
  return { statuses, counts: Object.fromEntries(counts) };
}

/** An account whose next echo call is refused, and the refusal's status; `used`: calls made before. */
type Refused = { token: string; status: number; used: number };

const cases: [name: string, setup: (feature: ReturnType<typeof countingFeature>) => Promise<Refused>][] = [
  [
    'out of credits (402 insufficient_credits)',
    async (feature) => {
      const { token } = await fundedAccount(0.002);
      expect(await feature.call(token)).toBe(200);
      return { token, status: 402, used: 1 };
    },
  ],
  [
    'over the postpaid spend limit (402 spend_limit_reached)',
    async (feature) => {
      const { accountId, token } = await postpaidAccount();
      await setSpendLimit(accountId, fromWire(0.002));
      expect(await feature.call(token)).toBe(200);
      return { token, status: 402, used: 1 };
    },
  ],
  [
    "over the token's own spend limit (402 token_limit_reached)",
    async (feature) => {
      const { accountId } = await fundedAccount(1);
      const { token } = await createToken(accountId, {
        name: 'limited',
        scopes: ['api'],
        spendLimit: { amount: fromWire(0.002), reset: 'monthly' },
      });
      expect(await feature.call(token)).toBe(200);
      return { token, status: 402, used: 1 };
    },
  ],
  [
    'an AWS Marketplace buyer whose subscription ended (403 subscription_inactive)',
    async () => ({ token: (await marketplaceAccount('cancelled')).token, status: 403, used: 0 }),
  ],
];

describe('a refused call costs one DynamoDB request and no feature work', () => {
  it.each(cases)('%s', async (_name, setup) => {
    // Prepare
    const feature = countingFeature();
    const { token, status, used } = await setup(feature);

    // Act
    const { statuses, counts } = await refusalsCost(() => feature.call(token), status);

    // Assess
    expect(statuses).toEqual(Array(5).fill(status));
    expect(counts).toEqual({ TransactWriteItemsCommand: 5 });
    expect(feature.runs.count).toBe(used);
  });
});
