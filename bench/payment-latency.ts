// How fast a payment becomes credit locally: `npm start`'s stack with its Stripe emulator, 20 card
// purchases paid on the hosted checkout page, timed from the form POST until GET /v1/credits shows the
// money (the webhook's trip through the emulator, the signature check, Stripe re-reads and the ledger write).
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { mergeResults, percentile, startBenchStack } from './results.ts';

const ROUNDS = 20;
const _root = fileURLToPath(new URL('..', import.meta.url));

const stack = await startBenchStack();
const token = stack.demo!.token;
const api = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return response.json() as Promise<Record<string, unknown>>;
};

const samples: number[] = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    const before = (await api('GET', '/v1/credits')).balance as number;
    const { checkout_url } = (await api('POST', '/v1/billing/checkout', { amount: 5 })) as {
      checkout_url: string;
    };
    const started = performance.now();
    const paid = await fetch(checkout_url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ payment_method: 'card', card_number: '4242424242424242' }).toString(),
      redirect: 'manual',
    });
    if (paid.status !== 303) throw new Error(`checkout page answered ${paid.status}`);
    for (;;) {
      if (((await api('GET', '/v1/credits')).balance as number) >= before + 5) break;
      if (performance.now() - started > 10_000) throw new Error('payment not credited within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    samples.push(performance.now() - started);
  }
} finally {
  await stack.stop();
}

const sorted = [...samples].sort((a, b) => a - b);
const figures = {
  payment_to_credit_p50_ms: Number(percentile(sorted, 50).toFixed(1)),
  payment_to_credit_p95_ms: Number(percentile(sorted, 95).toFixed(1)),
  payment_to_credit_max_ms: Number(sorted.at(-1)!.toFixed(1)),
  rounds: ROUNDS,
};
console.table(figures);

mergeResults('payments', { ...figures, measured_at: new Date().toISOString(), cpus: cpus().length });
