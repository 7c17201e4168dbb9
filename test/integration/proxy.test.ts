// Metered proxy routes against a toy upstream in another process, money checked on DynamoDB Local: charged
// only for 2xx answers (exact to the micro-dollar under racing calls), nothing for the upstream's 4xx, 5xx,
// broken connections, timeouts or bad x-usage-quantity, a 402 without the upstream being called, only the
// documented headers forwarded, and a signature the operator's helper (examples/verify-signature.ts) accepts.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { routes } from '#infra/definitions/routes.ts';
import { fromWire } from '#shared/money.ts';
import { verifyCreditsRequest } from '../../examples/verify-signature.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { type CallOptions, call } from '../support/api.ts';
import { useToyUpstream } from '../support/toy-process.ts';

const toy = useToyUpstream();
const { seenBy } = toy;

const translate = (token: string, body: unknown, options: CallOptions = {}) =>
  call('POST', '/v1/sample/translate', { token, body, ...options });
const complete = (token: string, body: unknown) => call('POST', '/v1/sample/complete', { token, body });

/** Nothing charged and nothing held: the balance and what is available are what was funded. */
async function expectUntouched(accountId: string, usd: number): Promise<void> {
  const money = await accountMoney(accountId);
  expect([money.balance, money.available]).toEqual([fromWire(usd), fromWire(usd)]);
  expect(ledgerSum(await ledgerEntries(accountId))).toBe(fromWire(usd));
}

describe('the route table', () => {
  it('declares the two sample routes as proxy routes of the proxy function', () => {
    const proxied = routes.filter((route) => route.proxy).map((route) => [route.path, route.proxy?.feature]);
    expect(proxied).toEqual([
      ['/v1/sample/translate', 'sample_translate'],
      ['/v1/sample/complete', 'sample_complete'],
    ]);
  });
});

describe('fixed price (POST /v1/sample/translate, 0.005)', () => {
  it('60 racing calls with room for 20: 20 answered and charged, 40 refused before the upstream, money exact', async () => {
    const { accountId, token } = await fundedAccount(0.1);

    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => translate(token, { text: `hello ${i}`, to: 'fr' })),
    );

    const ok = answers.filter((a) => a.status === 200);
    expect(ok).toHaveLength(20);
    expect(answers.filter((a) => a.status === 402 && a.body.code === 'insufficient_credits')).toHaveLength(
      40,
    );
    for (const answer of ok) {
      expect(answer.body).toEqual({
        translation: expect.stringMatching(/^\[fr\] hello/),
        to: 'fr',
        cost: 0.005,
      });
      expect(answer.headers['x-cost']).toBe('0.005');
      expect(answer.headers['x-request-id']).toMatch(/^req_/);
      expect(answer.headers['x-credits-remaining']).toBeDefined();
    }
    expect(await seenBy(accountId)).toHaveLength(20);
    const money = await accountMoney(accountId);
    expect([money.balance, money.available]).toEqual([0, 0]);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(0);
  });

  it('an account that cannot pay gets the 402 and the upstream is never called', async () => {
    const { accountId, token } = await fundedAccount(0.004);

    const answer = await translate(token, { text: 'hi', to: 'de' });

    expect(answer.status).toBe(402);
    expect(answer.body).toEqual({ error: 'Insufficient credits', code: 'insufficient_credits' });
    expect(await seenBy(accountId)).toHaveLength(0);
    await expectUntouched(accountId, 0.004);
  });

  it('an upstream 4xx is passed through with cost 0 and its charge reversed', async () => {
    const { accountId, token } = await fundedAccount(1);

    const answer = await translate(token, { text: 'hi', to: 'de', fail: 422 });

    expect(answer.status).toBe(422);
    expect(answer.body).toEqual({ error: 'Failing with 422 as asked', code: 'upstream_refusal', cost: 0 });
    expect(answer.headers['x-cost']).toBe('0');
    await expectUntouched(accountId, 1);
    const entries = await ledgerEntries(accountId);
    expect(entries.filter((e) => e.type === 'reversal')).toHaveLength(1);
  });

  it.each([
    ['an upstream 5xx', 502, 'upstream_error', { fail: 503 }],
    ['a closed connection', 502, 'upstream_error', { close: true }],
    ['no answer within the route’s 5 s', 504, 'upstream_timeout', { delay_ms: 6_000 }],
  ])('%s → %i %s, not charged', async (_what, status, code, behaviour) => {
    const { accountId, token } = await fundedAccount(1);

    const answer = await translate(token, { text: 'hi', to: 'de', ...behaviour });

    expect(answer.status).toBe(status);
    expect(answer.body.code).toBe(code);
    expect(await seenBy(accountId)).toHaveLength(1);
    await expectUntouched(accountId, 1);
  });

  it('keeps a "cost" the upstream answered itself, and says the charge in x-cost', async () => {
    const { token } = await fundedAccount(1);

    const answer = await translate(token, { has_cost: true });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ cost: 'the upstream’s own' });
    expect(answer.headers['x-cost']).toBe('0.005');
  });

  it('passes a binary body through untouched, both ways (base64 events)', async () => {
    const { accountId, token } = await fundedAccount(1);
    const bytes = randomBytes(4096);

    const answer = await translate(token, undefined, {
      rawBody: bytes.toString('base64'),
      base64: true,
      headers: { 'content-type': 'application/octet-stream' },
    });

    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/octet-stream');
    expect(Buffer.from(answer.body as string, 'base64').equals(bytes)).toBe(true);
    const [seen] = await seenBy(accountId);
    expect(Buffer.from(seen!.body, 'base64').equals(bytes)).toBe(true);
  });
});

describe('what the upstream receives', () => {
  it('the path below the prefix, the query, the body and the signed x-credits-* headers; no hop-by-hop, host or authorization', async () => {
    const { accountId, token } = await fundedAccount(1);

    const answer = await translate(
      token,
      { text: 'hi', to: 'it' },
      {
        query: { a: '1', b: 'two' },
        headers: {
          connection: 'keep-alive, x-hop-named',
          'x-hop-named': 'secret',
          'keep-alive': 'timeout=5',
          'proxy-authorization': 'Basic abc',
          te: 'trailers',
          upgrade: 'websocket',
          host: 'evil.example',
          'x-credits-account-id': 'acct_forged',
          accept: 'application/json',
        },
      },
    );

    expect(answer.status).toBe(200);
    const [seen] = await seenBy(accountId);
    expect(seen!.method).toBe('POST');
    expect(seen!.url).toBe('/translate?a=1&b=two');
    expect(JSON.parse(Buffer.from(seen!.body, 'base64').toString())).toEqual({ text: 'hi', to: 'it' });
    const headers = seen!.headers;
    expect(headers.host).toBe(new URL(toy.url).host);
    for (const name of ['authorization', 'proxy-authorization', 'x-hop-named', 'te', 'upgrade']) {
      expect(headers[name]).toBeUndefined();
    }
    expect(headers['keep-alive']).not.toBe('timeout=5');
    expect(headers['content-type']).toBe('application/json');
    expect(headers.accept).toBe('application/json');
    expect(headers['x-credits-account-id']).toBe(accountId);
    expect(headers['x-credits-request-id']).toBe(answer.headers['x-request-id']);
    expect(headers['x-credits-feature']).toBe('sample_translate');
    expect(verifyCreditsRequest(headers, toy.secret)).toEqual({
      ok: true,
      accountId,
      requestId: answer.headers['x-request-id'],
      feature: 'sample_translate',
    });
    expect(verifyCreditsRequest(headers, `${toy.secret}x`)).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyCreditsRequest({ ...headers, 'x-credits-account-id': 'acct_other' }, toy.secret).ok).toBe(
      false,
    );
  });
});

describe('per unit (POST /v1/sample/complete, 0.00002 a token, max_quantity 8192)', () => {
  it('racing calls: only the upstream-reported tokens are charged, to the micro-dollar, and nothing stays held', async () => {
    const { accountId, token } = await fundedAccount(0.5);

    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        complete(token, { prompt: 'three word prompt', max_tokens: 100 * (i + 1) }),
      ),
    );

    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 402);
    expect(ok.length + refused.length).toBe(12);
    expect(ok.length).toBeGreaterThanOrEqual(3);
    let charged = 0;
    for (const answer of ok) {
      expect(answer.headers['x-cost']).toBe(String(answer.body.cost));
      charged += fromWire(answer.body.cost);
    }
    expect(await seenBy(accountId)).toHaveLength(ok.length);
    const money = await accountMoney(accountId);
    expect(money.balance).toBe(fromWire(0.5) - charged);
    expect(money.available).toBe(money.balance);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(money.balance);
  });

  it('charges words in the prompt + max_tokens at 0.00002 each', async () => {
    const { accountId, token } = await fundedAccount(1);

    const answer = await complete(token, { prompt: 'one two three', max_tokens: 7 });

    expect(answer.status).toBe(200);
    expect(answer.body.cost).toBe(0.0002);
    expect((await accountMoney(accountId)).balance).toBe(fromWire(1) - 200);
  });

  it('holds max_quantity × unit price first: an account with less is refused before the upstream', async () => {
    const { accountId, token } = await fundedAccount(0.16);

    const answer = await complete(token, { prompt: 'hi', max_tokens: 1 });

    expect(answer.status).toBe(402);
    expect(await seenBy(accountId)).toHaveLength(0);
    await expectUntouched(accountId, 0.16);
  });

  it.each([
    ['0', 0],
    ['8192', 0.16384],
  ])('x-usage-quantity %s is charged %d', async (usage, cost) => {
    const { token } = await fundedAccount(1);

    const answer = await complete(token, { usage });

    expect(answer.status).toBe(200);
    expect(answer.body.cost).toBe(cost);
  });

  it.each(['-1', '1.5', '8193', '99999999999999999999', '1e3', 'many', ''])(
    'a bad x-usage-quantity (%j) is a 502, not charged, the hold released',
    async (usage) => {
      const { accountId, token } = await fundedAccount(1);

      const answer = await complete(token, { usage });

      expect(answer.status).toBe(502);
      expect(answer.body).toEqual({
        error: 'The upstream reported an invalid usage quantity',
        code: 'upstream_error',
      });
      await expectUntouched(accountId, 1);
    },
  );

  it('an upstream 4xx releases the hold and is passed through', async () => {
    const { accountId, token } = await fundedAccount(1);

    const answer = await complete(token, { prompt: 'x', max_tokens: 5000 });

    expect(answer.status).toBe(400);
    expect(answer.headers['x-cost']).toBe('0');
    await expectUntouched(accountId, 1);
  });
});
