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

describe('a refused call costs one DynamoDB request and no feature work', () => {
  it('out of credits (402 insufficient_credits)', async () => {
    // Prepare: funded for one call, which is made.
    const { token } = await fundedAccount(0.002);
    const feature = countingFeature();
    expect(await feature.call(token)).toBe(200);

    // Act
    const { statuses, counts } = await refusalsCost(() => feature.call(token), 402);

    // Assess
    expect(statuses).toEqual([402, 402, 402, 402, 402]);
    expect(counts).toEqual({ TransactWriteItemsCommand: 5 });
    expect(feature.runs.count).toBe(1);
  });

  it('over the postpaid spend limit (402 spend_limit_reached)', async () => {
    // Prepare: a limit of one call, used.
    const { accountId, token } = await postpaidAccount();
    await setSpendLimit(accountId, fromWire(0.002));
    const feature = countingFeature();
    expect(await feature.call(token)).toBe(200);

    // Act
    const { statuses, counts } = await refusalsCost(() => feature.call(token), 402);

    // Assess
    expect(statuses).toEqual([402, 402, 402, 402, 402]);
    expect(counts).toEqual({ TransactWriteItemsCommand: 5 });
    expect(feature.runs.count).toBe(1);
  });

  it("over the token's own spend limit (402 token_limit_reached)", async () => {
    // Prepare
    const { accountId } = await fundedAccount(1);
    const limited = await createToken(accountId, {
      name: 'limited',
      scopes: ['api'],
      spendLimit: { amount: fromWire(0.002), reset: 'monthly' },
    });
    const feature = countingFeature();
    expect(await feature.call(limited.token)).toBe(200);

    // Act
    const { statuses, counts } = await refusalsCost(() => feature.call(limited.token), 402);

    // Assess
    expect(statuses).toEqual([402, 402, 402, 402, 402]);
    expect(counts).toEqual({ TransactWriteItemsCommand: 5 });
    expect(feature.runs.count).toBe(1);
  });

  it('an AWS Marketplace buyer whose subscription ended (403 subscription_inactive)', async () => {
    // Prepare
    const { token } = await marketplaceAccount('cancelled');
    const feature = countingFeature();

    // Act
    const { statuses, counts } = await refusalsCost(() => feature.call(token), 403);

    // Assess
    expect(statuses).toEqual([403, 403, 403, 403, 403]);
    expect(counts).toEqual({ TransactWriteItemsCommand: 5 });
    expect(feature.runs.count).toBe(0);
  });
});
