// The README's "adding a paid feature" example (examples/paid-feature/) runs against DynamoDB Local: it
// charges its catalog price once, refuses bad input without charging, answers what its operation describes,
// and the README quotes the files exactly.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import type { ApiContext, ApiEvent } from '#shared/http/api.ts';
import { resetCatalog } from '#shared/metering/catalog.ts';
import defaults from '#shared/metering/price-catalog.json' with { type: 'json' };
import exampleCatalog from '../../examples/paid-feature/catalog.json' with { type: 'json' };
import { handler } from '../../examples/paid-feature/handler.ts';
import { summarizeOperation } from '../../examples/paid-feature/operation.ts';
import { accountMoney, fundedAccount, ledgerEntries } from '../support/accounts.ts';
import { apiEvent, lambdaContext } from '../support/api.ts';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

beforeAll(() => {
  process.env.PRICE_CATALOG = JSON.stringify({
    features: { ...defaults.features, ...exampleCatalog.features },
  });
  resetCatalog();
});

afterAll(() => {
  delete process.env.PRICE_CATALOG;
  resetCatalog();
});

/** The example's route is not in the project's route table: the event is API Gateway's for POST /v1/summarize. */
function summarizeEvent(token: string, body: unknown): ApiEvent {
  const event = apiEvent('POST', '/v1/demo/echo', { token, body });
  return {
    ...event,
    routeKey: 'POST /v1/summarize',
    rawPath: '/v1/summarize',
    requestContext: { ...event.requestContext, routeKey: 'POST /v1/summarize' },
  };
}

describe('examples/paid-feature', () => {
  it('charges its catalog price once and answers the results its operation describes', async () => {
    const { accountId, token } = await fundedAccount(1);

    const result = await handler(
      summarizeEvent(token, { text: 'Credits are exact. Nothing else matters.' }),
      lambdaContext() as ApiContext,
    );

    expect(result.statusCode).toBe(200);
    const body = JSON.parse(result.body);
    expect(body).toEqual({ results: { summary: 'Credits are exact.' }, cost: 0.01 });
    expect(result.headers['x-credits-remaining']).toBe('0.99');
    expect((await accountMoney(accountId)).balance).toBe(990_000);
    const answer = summarizeOperation.answers[200]?.json;
    const validate = new Ajv2020({ strict: false }).compile(z.toJSONSchema(answer!, { io: 'output' }));
    expect(validate(body)).toBe(true);
    expect(validate({ ...body, extra: 1 })).toBe(false);
  });

  it('refuses input it cannot use with a 400 naming the field, and charges nothing, net', async () => {
    const { accountId, token } = await fundedAccount(1);

    const malformed = await handler(summarizeEvent(token, { text: 42 }), lambdaContext() as ApiContext);
    const empty = await handler(summarizeEvent(token, { text: '   ' }), lambdaContext() as ApiContext);

    expect(malformed.statusCode).toBe(400);
    expect(JSON.parse(malformed.body).details[0].field).toBe('text');
    expect(empty.statusCode).toBe(400);
    expect(JSON.parse(empty.body).details).toEqual([{ field: 'text', problem: 'has nothing to summarize' }]);
    expect((await accountMoney(accountId)).balance).toBe(1_000_000);
    // A malformed body is refused before any charge; the feature's own refusal comes after its charge (charge
    // first: a feature never runs unpaid), which is then reversed, once.
    const entries = await ledgerEntries(accountId);
    expect(entries.map((entry) => entry.type).sort()).toEqual(['grant', 'reversal', 'usage']);
    expect(entries.reduce((sum, entry) => sum + entry.amount, 0)).toBe(1_000_000);
  });

  it('is quoted in the README exactly as it is in the repository', () => {
    const readme = read('README.md');
    for (const path of [
      'examples/paid-feature/handler.ts',
      'examples/paid-feature/catalog.json',
      'examples/paid-feature/operation.ts',
    ]) {
      const quoted = new RegExp(`<!-- quote: ${path} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(
        readme,
      )?.[1];
      expect(quoted, `README quotes ${path}`).toBe(read(path));
    }
  });
});
