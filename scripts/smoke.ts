// `npm run smoke -- --url <base URL> --token <token>`: after a deploy, a short read-and-charge scenario against
// the deployment (cloud or `npm start`) that checks what the contract promises a caller, one line per step.
// Exit 0 only when every step held; 1 at the first deviation; 2 for bad arguments.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import * as z from 'zod/mini';
import { usdAmount, zodProblems } from '#shared/http/validation.ts';
import {
  add,
  fromDecimalString,
  InvalidMoneyError,
  type Micros,
  negate,
  subtract,
  toWire,
  ZERO,
} from '#shared/money.ts';

const USAGE = `Usage: npm run smoke -- --url <base URL> --token <token>

Checks a deployment from the outside, as a customer would call it: the price list, the balance, one paid
call to POST /v1/demo/echo (charged once: $0.002 with the default catalog) and its replay, the balance,
usage and transactions after it. Use an account that nothing else spends from while it runs.

  --url <base URL>   where the API answers: the CreditsApi stack's API URL (or the dashboard's URL, which
                     serves /v1 too), or http://localhost:3000 for npm start
  --token <token>    a billing or api token of that account (never printed). SMOKE_TOKEN in the
                     environment is used when --token is not given (npm prints the command line it runs).
  --help             this text

Exit status: 0 every step passed, 1 a step failed, 2 bad arguments.`;

/** Per request: API Gateway gives up after 30 s; a deployment that takes 15 s to answer is already broken. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Usage is recorded with the charge today, but the contract does not promise it is immediate. */
const USAGE_WAIT_MS = 10_000;
const USAGE_POLL_MS = 1_000;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A deviation from what the deployment should answer: the message is what the operator reads. */
class StepFailedError extends Error {
  override readonly name = 'StepFailedError';
}

type Settings = { baseUrl: string; token: string };

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    options: { url: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
    allowPositionals: true,
  });
}

function parseSettings(argv: string[]): Settings | 'help' {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    // parseArgs names the unknown option or the option missing its value, never a value.
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  // Not quoted: a stray word is most likely a token whose --token was forgotten.
  if (positionals.length) throw new UsageError('unexpected argument: every value follows --url or --token');
  if (!values.url) throw new UsageError('--url is required');
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new UsageError(`--url is not a URL: ${values.url}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--url must be an http or https URL, got ${url.protocol}`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new UsageError('--url must be a base URL, without credentials, query or fragment');
  }
  const token = values.token ?? process.env.SMOKE_TOKEN;
  if (!token) throw new UsageError('--token is required (or SMOKE_TOKEN in the environment)');
  // Checked here so that fetch never gets to quote a malformed value in its error.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new UsageError('--token must be one word of printable ASCII characters, as the API issued it');
  }
  return { baseUrl: `${url.origin}${url.pathname.replace(/\/+$/, '')}`, token };
}

type Answer = { method: string; path: string; status: number; headers: Headers; body: unknown };

type CallOptions = { auth?: boolean; body?: unknown; headers?: Record<string, string> };

async function call(settings: Settings, method: string, path: string, options: CallOptions = {}) {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.auth !== false) headers.authorization = `Bearer ${settings.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const what = `${method} ${path}`;
  let status: number;
  let responseHeaders: Headers;
  let text: string;
  try {
    const response = await fetch(`${settings.baseUrl}${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      redirect: 'manual',
      // Covers reading the body too.
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    status = response.status;
    responseHeaders = response.headers;
    text = await response.text();
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') {
      throw new StepFailedError(`${what}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new StepFailedError(
      `${what}: could not reach ${settings.baseUrl} (${cause?.code ?? cause?.message ?? (error as Error).message})`,
    );
  }
  let body: unknown;
  if (responseHeaders.get('content-type')?.includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {
      throw new StepFailedError(`${what} answered ${status} with a body that is not JSON`);
    }
  }
  return { method, path, status, headers: responseHeaders, body } satisfies Answer;
}

const errorBody = z.object({ error: z.string(), code: z.string() });

/** Why an answer was not the expected status, in words an operator can act on. */
function refusal(answer: Answer, expected: number): string {
  const what = `${answer.method} ${answer.path}`;
  const parsed = errorBody.safeParse(answer.body);
  const code = parsed.success ? parsed.data.code : undefined;
  const said = parsed.success ? `: "${parsed.data.error}"` : '';
  switch (answer.status) {
    case 401:
      return `${what}: the token was refused (401 ${code ?? 'unauthorized'}${said}); check --token and that it was issued by this deployment`;
    case 402:
      return code === 'insufficient_credits'
        ? `${what}: the account has no credits to pay for the call (402 insufficient_credits); grant or buy credits, then run the smoke test again`
        : `${what}: the call was refused for billing (402 ${code ?? 'payment required'}${said})`;
    case 403:
      return `${what}: the token may not do this (403 ${code ?? 'forbidden'}${said})`;
    case 404:
      return `${what}: 404 ${code ?? 'not found'}; is --url the API's base URL?`;
    default:
      return `${what}: expected ${expected}, got ${answer.status}${code ? ` ${code}` : ''}${said}`;
  }
}

/** The answer's body, checked against the shape the contract gives it. */
function expectAnswer<T>(answer: Answer, expected: number, schema: z.ZodMiniType<T>): T {
  if (answer.status !== expected) throw new StepFailedError(refusal(answer, expected));
  const parsed = schema.safeParse(answer.body);
  if (!parsed.success) {
    const problems = zodProblems(parsed.error).map((p) => `${p.field} ${p.problem}`);
    throw new StepFailedError(
      `${answer.method} ${answer.path} answered an unexpected body: ${problems.join('; ')}`,
    );
  }
  return parsed.data;
}

const pricesSchema = z.object({
  currency: z.literal('USD'),
  data: z.array(z.object({ feature: z.string(), pricing: z.string(), price: z.optional(usdAmount) })),
});

const billingModes = ['prepaid', 'postpaid', 'marketplace', 'marketplace_contract'] as const;
type BillingMode = (typeof billingModes)[number];

const creditsSchema = z.object({
  balance: usdAmount,
  available: usdAmount,
  currency: z.literal('USD'),
  billing_mode: z.enum(billingModes),
  period: z.optional(z.string()),
  period_usage: z.optional(usdAmount),
});
type Credits = z.infer<typeof creditsSchema>;

const echoSchema = z.object({ results: z.object({ echo: z.string() }), cost: usdAmount });

const usageSchema = z.object({
  data: z.array(z.object({ requests: z.number(), by_feature: z.record(z.string(), usdAmount) })),
});

const transactionsSchema = z.object({
  data: z.array(
    z.object({
      id: z.string(),
      amount: usdAmount,
      request_id: z.optional(z.string()),
      feature: z.optional(z.string()),
    }),
  ),
});

function usd(amount: Micros): string {
  return `${amount < 0 ? '-' : ''}$${Math.abs(toWire(amount))}`;
}

/** Modes whose calls are paid from the balance (the others accrue: invoiced, or reported to AWS). */
function debitsBalance(mode: BillingMode): boolean {
  return mode === 'prepaid' || mode === 'marketplace_contract';
}

function requests(count: number): string {
  return `${count} request${count === 1 ? '' : 's'}`;
}

function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

type UsageTotals = { requests: number; echo: Micros };

async function usageTotals(settings: Settings, begin: string, end: string): Promise<UsageTotals> {
  const answer = await call(settings, 'GET', `/v1/usage?begin=${begin}&end=${end}&step=day`);
  const { data } = expectAnswer(answer, 200, usageSchema);
  let requests = 0;
  let echo = ZERO;
  for (const bucket of data) {
    requests += bucket.requests;
    echo = add(echo, bucket.by_feature.echo ?? ZERO);
  }
  return { requests, echo };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Step = { name: string; run: () => Promise<string> };

/** The scenario: each step checks one promise and says what it saw; later steps use what earlier ones read. */
function scenario(settings: Settings): Step[] {
  const idempotencyKey = `smoke-${randomUUID()}`;
  const text = `smoke test ${new Date().toISOString()}`;
  let price = ZERO;
  let before: Credits | undefined;
  let usageBefore: UsageTotals | undefined;
  let usageSince = '';
  let charge: { requestId: string; cost: Micros; body: unknown } | undefined;
  const mustHave = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('a step ran before the step it depends on');
    return value;
  };

  return [
    {
      name: 'prices',
      run: async () => {
        const answer = await call(settings, 'GET', '/v1/prices', { auth: false });
        const { data } = expectAnswer(answer, 200, pricesSchema);
        const echo = data.find((entry) => entry.feature === 'echo');
        if (!echo) throw new StepFailedError('GET /v1/prices does not list the reference feature echo');
        if (echo.pricing !== 'fixed' || echo.price === undefined) {
          throw new StepFailedError(`GET /v1/prices lists echo as "${echo.pricing}", not a fixed price`);
        }
        price = echo.price;
        return `GET /v1/prices (no token): ${data.length} features; echo is fixed at ${usd(price)} a call`;
      },
    },
    {
      name: 'credits',
      run: async () => {
        before = expectAnswer(await call(settings, 'GET', '/v1/credits'), 200, creditsSchema);
        usageSince = utcDate(Date.now());
        usageBefore = await usageTotals(settings, usageSince, usageSince);
        const postpaid =
          before.period_usage === undefined ? '' : `, ${usd(before.period_usage)} used in ${before.period}`;
        return `GET /v1/credits: ${before.billing_mode}, balance ${usd(before.balance)}, available ${usd(before.available)}${postpaid}; ${requests(usageBefore.requests)} today`;
      },
    },
    {
      name: 'paid call',
      run: async () => {
        const answer = await call(settings, 'POST', '/v1/demo/echo', {
          body: { text },
          headers: { 'idempotency-key': idempotencyKey },
        });
        const { results, cost } = expectAnswer(answer, 200, echoSchema);
        if (results.echo !== text) throw new StepFailedError('POST /v1/demo/echo echoed another text');
        if (cost !== price) {
          throw new StepFailedError(
            `POST /v1/demo/echo cost ${usd(cost)}, but /v1/prices lists ${usd(price)}`,
          );
        }
        const requestId = answer.headers.get('x-request-id');
        if (!requestId) throw new StepFailedError('POST /v1/demo/echo answered without x-request-id');
        let remaining = '';
        if (mustHave(before).billing_mode === 'prepaid') {
          const header = answer.headers.get('x-credits-remaining');
          if (header === null) {
            throw new StepFailedError(
              'POST /v1/demo/echo answered a prepaid account without x-credits-remaining',
            );
          }
          try {
            remaining = `, x-credits-remaining ${usd(fromDecimalString(header))}`;
          } catch (error) {
            if (!(error instanceof InvalidMoneyError)) throw error;
            throw new StepFailedError(`x-credits-remaining is not an amount: ${header}`);
          }
        }
        charge = { requestId, cost, body: answer.body };
        return `POST /v1/demo/echo: 200, cost ${usd(cost)} as listed, x-request-id ${requestId}${remaining}`;
      },
    },
    {
      name: 'replay',
      run: async () => {
        const first = mustHave(charge);
        const answer = await call(settings, 'POST', '/v1/demo/echo', {
          body: { text },
          headers: { 'idempotency-key': idempotencyKey },
        });
        if (answer.status !== 200) throw new StepFailedError(refusal(answer, 200));
        if (!isDeepStrictEqual(answer.body, first.body)) {
          throw new StepFailedError(
            `the same Idempotency-Key answered another body: ${JSON.stringify(answer.body)} after ${JSON.stringify(first.body)}`,
          );
        }
        return 'the same request with the same Idempotency-Key: the same answer';
      },
    },
    {
      name: 'charged once',
      run: async () => {
        const was = mustHave(before);
        const { cost } = mustHave(charge);
        const now = expectAnswer(await call(settings, 'GET', '/v1/credits'), 200, creditsSchema);
        if (now.billing_mode !== was.billing_mode) {
          throw new StepFailedError(
            `the billing mode changed from ${was.billing_mode} to ${now.billing_mode} meanwhile`,
          );
        }
        if (debitsBalance(was.billing_mode)) {
          const down = subtract(was.balance, now.balance);
          if (down !== cost) {
            throw new StepFailedError(
              `the balance went from ${usd(was.balance)} to ${usd(now.balance)} (down ${usd(down)}), expected down by exactly the cost ${usd(cost)}`,
            );
          }
          return `GET /v1/credits: balance ${usd(was.balance)} → ${usd(now.balance)}, down by exactly the cost`;
        }
        if (now.balance !== was.balance) {
          throw new StepFailedError(
            `a ${was.billing_mode} account's balance changed from ${usd(was.balance)} to ${usd(now.balance)}; its calls are not paid from it`,
          );
        }
        if (was.billing_mode === 'marketplace') {
          return `GET /v1/credits: balance unchanged at ${usd(now.balance)} (usage is billed through AWS Marketplace)`;
        }
        const usedBefore = was.period === now.period ? (was.period_usage ?? ZERO) : ZERO;
        const up = subtract(now.period_usage ?? ZERO, usedBefore);
        if (up !== cost) {
          throw new StepFailedError(
            `${now.period} usage went from ${usd(usedBefore)} to ${usd(now.period_usage ?? ZERO)}, expected up by exactly the cost ${usd(cost)}`,
          );
        }
        return `GET /v1/credits: ${now.period} usage ${usd(usedBefore)} → ${usd(now.period_usage ?? ZERO)}, up by exactly the cost`;
      },
    },
    {
      name: 'usage',
      run: async () => {
        const was = mustHave(usageBefore);
        const { cost } = mustHave(charge);
        const until = Date.now() + USAGE_WAIT_MS;
        for (;;) {
          const today = utcDate(Date.now());
          const now = await usageTotals(settings, usageSince, today);
          if (now.requests >= was.requests + 1 && subtract(now.echo, was.echo) >= cost) {
            return `GET /v1/usage: ${was.requests} → ${requests(now.requests)}, echo ${usd(was.echo)} → ${usd(now.echo)} (UTC ${today})`;
          }
          if (Date.now() >= until) {
            throw new StepFailedError(
              `GET /v1/usage still shows ${requests(now.requests)} and ${usd(now.echo)} of echo since ${usageSince} (UTC) after ${USAGE_WAIT_MS / 1000} s; the call is not counted`,
            );
          }
          await sleep(USAGE_POLL_MS);
        }
      },
    },
    {
      name: 'transactions',
      run: async () => {
        const { requestId, cost } = mustHave(charge);
        const mode = mustHave(before).billing_mode;
        const answer = await call(settings, 'GET', '/v1/transactions?limit=100');
        const entries = expectAnswer(answer, 200, transactionsSchema).data.filter(
          (entry) => entry.request_id === requestId,
        );
        if (entries.length !== 1) {
          throw new StepFailedError(
            `GET /v1/transactions has ${entries.length} entries for the call ${requestId}, expected exactly 1`,
          );
        }
        const [entry] = entries as [(typeof entries)[number]];
        const expected = debitsBalance(mode) ? negate(cost) : ZERO;
        if (entry.amount !== expected) {
          throw new StepFailedError(
            `the ledger entry ${entry.id} of the call has amount ${usd(entry.amount)}, expected ${usd(expected)}`,
          );
        }
        return `GET /v1/transactions: entry ${entry.id} for ${requestId}, amount ${usd(entry.amount)}`;
      },
    },
  ];
}

async function runScenario(settings: Settings): Promise<boolean> {
  const steps = scenario(settings);
  console.log(`Smoke test of ${settings.baseUrl}`);
  const started = performance.now();
  for (const [index, step] of steps.entries()) {
    const stepStarted = performance.now();
    const label = `${index + 1}/${steps.length} ${step.name}`;
    const ms = () => `(${Math.round(performance.now() - stepStarted)} ms)`;
    try {
      const saw = await step.run();
      console.log(`✓ ${label}: ${saw} ${ms()}`);
    } catch (error) {
      if (!(error instanceof StepFailedError)) throw error;
      // Defence in depth: no answer should ever quote the token, but a misbehaving proxy might.
      console.log(`✗ ${label}: ${error.message.replaceAll(settings.token, '<token>')} ${ms()}`);
      console.log(`Smoke test FAILED at step ${index + 1} of ${steps.length}.`);
      return false;
    }
  }
  console.log(`Smoke test passed: ${steps.length} steps in ${Math.round(performance.now() - started)} ms.`);
  return true;
}

async function main(): Promise<number> {
  let settings: Settings | 'help';
  try {
    settings = parseSettings(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (settings === 'help') {
    console.log(USAGE);
    return 0;
  }
  return (await runScenario(settings)) ? 0 : 1;
}

process.exitCode = await main();
