// Local stack (`npm start`, the tests): DynamoDB Local, the route table served over node:http through the
// same handlers API Gateway invokes in the cloud, the scheduled jobs, and the local-only `/__local/*` endpoints.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type FunctionName, functions } from '#infra/definitions/functions.ts';
import { nowIso, nowMs, resetClock, setClock } from '#shared/clock.ts';
import { config, type RateLimit, type RateLimitVariable } from '#shared/config.ts';
import {
  errorResponse,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  ValidationError,
} from '#shared/errors.ts';
import { SECURITY_HEADERS } from '#shared/http/api.ts';
import { requestIdFor } from '#shared/ids.ts';
import { caughtMail, clearCaughtMail } from '#shared/notifications/mailer.ts';
import {
  buildEvent,
  FunctionTimeoutError,
  functionErrorAnswer,
  type Handler,
  type HttpAnswer,
  invokeWithTimeout,
  MAX_BODY_BYTES,
  toHttpAnswer,
} from './api-gateway.ts';
import { readStackState, type StackState, writeStackState } from './data-dir.ts';
import { createTable, startDynamoLocal } from './dynamo-local.ts';
import { createJobRunner, type JobRunner } from './jobs.ts';
import { fromLoopback, mailboxPage } from './mailbox.ts';
import type { MarketplaceEmulator } from './marketplace/emulator.ts';
import {
  type LocalMarketplaceOptions,
  proxyToMarketplace,
  startLocalMarketplace,
} from './marketplace/local.ts';
import { servePage } from './page.ts';
import { matchRoute } from './router.ts';
import { startSampleUpstream } from './sample-upstream.ts';
import { startStreamPoller } from './stream-poller.ts';
import { type StripeEmulator, startStripeEmulator } from './stripe/emulator.ts';
import { workPool } from './work-pool.ts';

export { matchRoute } from './router.ts';

export type LocalStackOptions = {
  /** 0 picks a free port. Default 3000. */
  port?: number;
  /** Default 127.0.0.1: the admin key guards money, so the stack is not exposed beyond this machine. */
  host?: string;
  adminApiKey?: string;
  /** Reuse a running DynamoDB Local instead of starting one. */
  dynamoEndpoint?: string;
  tableName?: string;
  seedDemo?: boolean;
  runJobs?: boolean;
  /** No request or job log lines, and Powertools logs silenced. Errors still go to stderr. */
  quiet?: boolean;
  /**
   * The local Stripe emulator. By default it runs unless `STRIPE_SECRET_KEY` names a real Stripe test key;
   * `false` turns it off; an object always starts it (tests), with these settings.
   */
  stripe?: false | LocalStripeOptions;
  /** The local AWS Marketplace emulator: runs unless `false` (the cloud talks to AWS). */
  marketplace?: false | LocalMarketplaceOptions;
  /**
   * Keep everything here across restarts (`npm start`; the caller holds the directory's lock): DynamoDB
   * Local's files, the emulators' state, a generated admin key and webhook secret, the demo account (seeded
   * on the first start only). Default: nothing outlives the stack (tests, the benchmark).
   */
  dataDirectory?: string;
  /**
   * Where the proxy routes' upstreams are (PROXY_UPSTREAMS): by default the sample upstream, started here on
   * a free port with a secret generated per start.
   */
  upstreams?: Record<string, { url: string; secret: string }>;
  /**
   * The rate limits the handlers enforce (RATE_LIMIT_RPS, RATE_LIMIT_BURST, RATE_LIMIT_ACCOUNT_RPS,
   * RATE_LIMIT_ACCOUNT_BURST), over what the environment says. One process serves everything here, so its
   * buckets alone are exact: nothing is shared through the table (RATE_LIMIT_SYNC off).
   */
  rateLimits?: Partial<Record<RateLimitVariable, number>>;
};

export type LocalStripeOptions = {
  /** Default `STRIPE_EMULATOR_PORT`, else a free port. */
  port?: number;
  /** Default `STRIPE_WEBHOOK_SECRET`, else generated. */
  webhookSecret?: string;
  fundingDelayMs?: number;
  webhookRetryBaseMs?: number;
};

export type LocalStack = {
  url: string;
  port: number;
  adminApiKey: string;
  demo?: { accountId: string; token: string };
  /** Where the data lives when it outlives the stack. */
  dataDirectory?: string;
  dynamoEndpoint: string;
  /** The Stripe emulator the handlers talk to, when it runs. */
  stripe?: StripeEmulator;
  /** The AWS Marketplace emulator the metering client talks to, when it runs. */
  marketplace?: MarketplaceEmulator;
  /** The proxy routes' upstreams, with the secret each verifies the gateway's signature with. */
  upstreams: Record<string, { url: string; secret: string }>;
  /** The rate limits the handlers enforce: each token's default, and each account's ceiling. */
  rateLimits: { token: RateLimit; account: RateLimit };
  /** Delivers every record written to the table's stream so far to its consumers (tests, scripts). */
  drainStream(): Promise<void>;
  stop(): Promise<void>;
};

/** The queue `shared/auto-refill/trigger.ts` sends to in local mode. */
type LocalRefillQueue = { __localRefillQueue?: (accountId: string) => void };

/** The queue `shared/postpaid/queue.ts` sends invoicing work to in local mode. */
type LocalInvoiceQueue = {
  __localInvoiceQueue?: (batch: { account_id: string; period: string }[]) => Promise<unknown[]>;
};

/** Invoice worker invocations at once locally (the cloud bounds it with the event source's maxConcurrency). */
const LOCAL_INVOICE_WORKERS = 5;

/** How often the local stream poller reads the table's stream (Lambda polls each shard about 4× a second). */
const STREAM_POLL_MS = 250;
/** How often the local webhook queue looks for attempts that are due (by the shared clock). */
const WEBHOOK_QUEUE_POLL_MS = 1_000;

/** The sink `shared/events/bus.ts` pushes to in local mode, and its stand-in for the notification queue. */
type LocalEventSink = {
  __localEvents?: unknown[];
  __localNotify?: (events: { event_id: string }[]) => Promise<void> | void;
};

/** The notification queue's stand-in redelivers a failed event after this long, this many times at most. */
const LOCAL_NOTIFY_RETRY_MS = 2_000;
const LOCAL_NOTIFY_ATTEMPTS = 10;

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const handlers = new Map<FunctionName, Promise<Handler>>();

/** Imports a function's entry the first time it is needed, after the environment is in place. */
function loadHandler(name: FunctionName): Promise<Handler> {
  let loaded = handlers.get(name);
  if (!loaded) {
    loaded = import(pathToFileURL(join(repoRoot, functions[name].entry)).href).then((module) => {
      if (typeof module.handler !== 'function')
        throw new Error(`${functions[name].entry} exports no handler`);
      return module.handler as Handler;
    });
    // A failed import (a file not written yet) is retried on the next request.
    loaded.catch(() => handlers.delete(name));
    handlers.set(name, loaded);
  }
  return loaded;
}

async function invoke(name: FunctionName, event: unknown): Promise<unknown> {
  const handler = await loadHandler(name);
  return invokeWithTimeout(name, functions[name], handler, event);
}

function json(
  status: number,
  body: unknown,
  requestId: string,
  headers: Record<string, string> = {},
): HttpAnswer {
  return {
    status,
    headers: {
      'content-type': 'application/json',
      ...SECURITY_HEADERS,
      ...headers,
      'x-request-id': requestId,
    },
    cookies: [],
    body: Buffer.from(JSON.stringify(body)),
  };
}

function errorAnswer(error: unknown, requestId: string): HttpAnswer {
  const { status, body, headers } = errorResponse(error);
  return json(status, body, requestId, headers);
}

/** Hashing first gives timingSafeEqual equal-length inputs, so not even the key's length leaks. */
function keyMatches(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Reads the body up to API Gateway's limit. Past it, the rest is drained unread so the client can still
 * receive the 413, and `undefined` is returned.
 */
function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (declared > MAX_BODY_BYTES) {
      request.resume();
      return resolve(undefined);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.off('data', onData);
        chunks.length = 0;
        request.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

function parseClockBody(body: Buffer): Date {
  const problem = new ValidationError([{ field: 'now', problem: 'must be an ISO 8601 time' }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw problem;
  }
  const value = (parsed as { now?: unknown } | null)?.now;
  if (
    typeof value !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)
  ) {
    throw problem;
  }
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw problem;
  return at;
}

type Dispatch = {
  request: IncomingMessage;
  path: string;
  body: Buffer;
  gatewayRequestId: string;
  timeEpoch: number;
  /** The `x-request-id` a handler derives from the gateway id; server answers carry it too. */
  requestId: string;
  adminApiKey: string;
  jobs: JobRunner;
  marketplace?: MarketplaceEmulator | undefined;
};

/** `/__local/*`: the local stack's own controls, never part of the cloud API. */
async function localEndpoint({
  request,
  path,
  body,
  requestId,
  adminApiKey,
  jobs,
}: Dispatch): Promise<HttpAnswer> {
  const method = request.method ?? 'GET';
  const admin = () => {
    if (!keyMatches(request.headers['x-admin-key'], adminApiKey)) {
      throw new UnauthorizedError('Missing or invalid x-admin-key');
    }
  };
  const jobName = /^\/__local\/jobs\/([^/]+)$/.exec(path)?.[1];
  if (jobName !== undefined) {
    if (method !== 'POST') throw new MethodNotAllowedError();
    admin();
    const ran = await jobs.run(decodeURIComponent(jobName));
    if (!ran) throw new NotFoundError(`No job named ${decodeURIComponent(jobName)}`);
    return json(200, { job: decodeURIComponent(jobName), result: ran.result ?? null }, requestId);
  }
  if (path === '/__local/clock') {
    if (method === 'GET') return json(200, { now: nowIso() }, requestId);
    admin();
    if (method === 'POST') setClock(parseClockBody(body));
    else if (method === 'DELETE') resetClock();
    else throw new MethodNotAllowedError();
    return json(200, { now: nowIso() }, requestId);
  }
  if (path === '/__local/mail') {
    admin();
    if (method === 'GET') return json(200, { data: caughtMail() }, requestId);
    if (method === 'DELETE') {
      clearCaughtMail();
      return json(200, { data: [] }, requestId);
    }
    throw new MethodNotAllowedError();
  }
  if (path === '/__local/mailbox') {
    if (method !== 'GET') throw new MethodNotAllowedError();
    if (!fromLoopback(request)) throw new ForbiddenError('The local mailbox is served to this machine only');
    return toHttpAnswer(mailboxPage());
  }
  if (path === '/__local/events') {
    admin();
    const sink = globalThis as LocalEventSink;
    if (method === 'GET') return json(200, { data: sink.__localEvents ?? [] }, requestId);
    if (method === 'DELETE') {
      sink.__localEvents = [];
      return json(200, { data: [] }, requestId);
    }
    throw new MethodNotAllowedError();
  }
  throw new NotFoundError();
}

async function dispatch(ctx: Dispatch): Promise<HttpAnswer> {
  const { request, path, requestId } = ctx;
  if (path === '/health' && request.method === 'GET') return json(200, { status: 'ok' }, requestId);
  if (path.startsWith('/__local/')) return localEndpoint(ctx);
  if (path.startsWith('/__marketplace/') && ctx.marketplace) {
    return proxyToMarketplace(ctx.marketplace, request, ctx.body, requestId);
  }
  const page = await servePage(request, path);
  if (page) return page;

  const match = matchRoute(request.method ?? 'GET', path);
  // Only `/` escapes the catch-all; API Gateway would answer it with its own 404.
  if (!match) throw new NotFoundError();
  const iamAuthorised = match.route.auth === 'iam';
  if (iamAuthorised && !keyMatches(request.headers['x-admin-key'], ctx.adminApiKey)) {
    throw new UnauthorizedError('Missing or invalid x-admin-key');
  }
  const event = buildEvent({
    request,
    requestId: ctx.gatewayRequestId,
    timeEpoch: ctx.timeEpoch,
    match,
    body: ctx.body,
    iamAuthorised,
  });
  let result: unknown;
  try {
    result = await invoke(match.route.function, event);
  } catch (error) {
    if (error instanceof FunctionTimeoutError) {
      console.error(`${match.routeKey}: ${error.message}; answered 500 as HTTP API does`);
      return functionErrorAnswer(ctx.gatewayRequestId);
    }
    // A handler that throws is a 500 in the cloud whatever it threw; domain errors are the handler's to map.
    console.error(`${match.routeKey} (${match.route.function}) threw:`, error);
    return json(500, { error: 'Internal error', code: 'internal_error' }, requestId);
  }
  try {
    return toHttpAnswer(result);
  } catch (error) {
    console.error(`${match.routeKey} (${match.route.function}):`, error);
    return json(500, { error: 'Internal error', code: 'internal_error' }, requestId);
  }
}

function send(response: ServerResponse, answer: HttpAnswer, close: boolean): void {
  response.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) response.setHeader(name, value);
  if (answer.cookies.length) response.setHeader('set-cookie', answer.cookies);
  if (close) response.setHeader('connection', 'close');
  response.end(answer.body);
}

/** Sets the environment the handlers read, returning how to put the previous one back. */
function applyEnvironment(values: Record<string, string>): () => void {
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  Object.assign(process.env, values);
  return () => {
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** The demo account's owner member: signs in by email, the link landing in the local mailbox. */
export const DEMO_OWNER_EMAIL = 'demo@example.com';

async function seedDemoAccount(): Promise<{ accountId: string; token: string }> {
  const { createAccount, grantCredits } = await import('#shared/accounts/service.ts');
  // The address makes that person the account's owner member (invited until their first sign-in).
  const { account, token } = await createAccount({ name: 'Demo account', email: DEMO_OWNER_EMAIL });
  await grantCredits({ accountId: account.account_id, amountUsd: 10, reason: 'Demo credits' });
  return { accountId: account.account_id, token };
}

/** A key the emulator generated (a stack started earlier in this process) is not a real Stripe key. */
function realStripeKeyConfigured(): boolean {
  const key = process.env.STRIPE_SECRET_KEY;
  return Boolean(key) && !key?.startsWith('sk_test_emulator_');
}

/** What a stack with a data directory keeps of the Stripe emulator, and in which file. */
type KeptStripe = { state: StackState; stateFile: string };

async function startLocalStripe(
  option: LocalStackOptions['stripe'],
  host: string,
  log: (message: string) => void,
  kept: KeptStripe | undefined,
): Promise<StripeEmulator | undefined> {
  if (option === false || (option === undefined && realStripeKeyConfigured())) return undefined;
  const settings = option ?? {};
  const configuredPort =
    settings.port ??
    (process.env.STRIPE_EMULATOR_PORT ? Number(process.env.STRIPE_EMULATOR_PORT) : undefined);
  if (
    configuredPort !== undefined &&
    (!Number.isInteger(configuredPort) || configuredPort < 0 || configuredPort > 65_535)
  ) {
    throw new Error(`STRIPE_EMULATOR_PORT must be a port number, got ${process.env.STRIPE_EMULATOR_PORT}`);
  }
  // A kept secret and port: webhooks the last run had not delivered are signed with the first, and the
  // checkout and invoice URLs stored in the table name the second.
  const webhookSecret =
    settings.webhookSecret ??
    process.env.STRIPE_WEBHOOK_SECRET ??
    kept?.state.stripeWebhookSecret ??
    `whsec_${randomBytes(24).toString('base64url')}`;
  const start = (port: number) =>
    startStripeEmulator({
      port,
      host,
      webhookSecret,
      ...(settings.fundingDelayMs === undefined ? {} : { fundingDelayMs: settings.fundingDelayMs }),
      ...(settings.webhookRetryBaseMs === undefined
        ? {}
        : { webhookRetryBaseMs: settings.webhookRetryBaseMs }),
      ...(kept ? { stateFile: kept.stateFile } : {}),
      log,
    });
  const keptPort = configuredPort === undefined ? kept?.state.stripePort : undefined;
  let emulator: StripeEmulator;
  try {
    emulator = await start(configuredPort ?? keptPort ?? 0);
  } catch (error) {
    if (keptPort === undefined || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    log(`Port ${keptPort} of the last Stripe emulator is taken; earlier checkout links will not open`);
    emulator = await start(0);
  }
  if (kept) {
    kept.state.stripePort = emulator.port;
    if (!settings.webhookSecret && !process.env.STRIPE_WEBHOOK_SECRET)
      kept.state.stripeWebhookSecret = webhookSecret;
  }
  return emulator;
}

/** A demo account seeded before accounts had members gets its owner member now. */
async function keepDemoOwner(accountId: string): Promise<void> {
  const { AlreadyMemberError, inviteMember, membershipsOf } = await import('#shared/members/store.ts');
  const memberships = await membershipsOf(DEMO_OWNER_EMAIL);
  if (memberships.some((membership) => membership.account_id === accountId)) return;
  try {
    await inviteMember(accountId, { email: DEMO_OWNER_EMAIL, role: 'owner' }, { type: 'operator' });
  } catch (error) {
    if (!(error instanceof AlreadyMemberError)) throw error;
  }
}

/** The demo account: the one an earlier start of this data directory seeded, else a new one. */
async function demoAccount(
  state: StackState | undefined,
  log: (message: string) => void,
): Promise<{ accountId: string; token: string }> {
  if (state?.demo) {
    log(`Demo account ${state.demo.accountId} kept from an earlier start`);
    await keepDemoOwner(state.demo.accountId);
    return state.demo;
  }
  log('Seeding the demo account…');
  const demo = await seedDemoAccount();
  if (state) state.demo = demo;
  return demo;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const quiet = options.quiet ?? false;
  const log = quiet ? () => {} : (message: string) => console.log(message);
  const dataDirectory = options.dataDirectory;
  const state = dataDirectory ? readStackState(dataDirectory) : undefined;
  // A generated key is kept with the data, so scripts written against the last start keep working.
  const adminApiKey = options.adminApiKey ?? state?.adminApiKey ?? randomBytes(24).toString('base64url');
  if (state && !options.adminApiKey) state.adminApiKey = adminApiKey;
  const tableName = options.tableName ?? 'credits-local';
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };

  try {
    let dynamoEndpoint = options.dynamoEndpoint;
    if (!dynamoEndpoint) {
      const dynamoData = dataDirectory ? join(dataDirectory, 'dynamodb') : undefined;
      log(`Starting DynamoDB Local (${dynamoData ? `data in ${dynamoData}` : 'in memory'})…`);
      const started = performance.now();
      const dynamo = await startDynamoLocal(dynamoData ? { dataDirectory: dynamoData } : {});
      cleanups.push(dynamo.stop);
      dynamoEndpoint = dynamo.endpoint;
      log(`DynamoDB Local ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    await createTable(dynamoEndpoint, tableName).catch((error: unknown) => {
      // A shared DynamoDB Local may already hold the table from an earlier run.
      if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
    });

    const host = options.host ?? '127.0.0.1';
    const stripe = await startLocalStripe(
      options.stripe,
      host,
      log,
      state && dataDirectory ? { state, stateFile: join(dataDirectory, 'stripe.json') } : undefined,
    );
    if (stripe) {
      cleanups.push(() => stripe.stop());
      log(`Stripe emulator on ${stripe.url}`);
    }
    const marketplaceOption =
      options.marketplace === false || !dataDirectory
        ? options.marketplace
        : { ...options.marketplace, stateFile: join(dataDirectory, 'marketplace.json') };
    const marketplace = await startLocalMarketplace(marketplaceOption, host, log, (event) =>
      invoke('marketplaceLifecycle', event),
    );
    if (marketplace) {
      cleanups.push(() => marketplace.stop());
      log(`AWS Marketplace emulator on ${marketplace.url}`);
    }

    let upstreams = options.upstreams;
    if (!upstreams) {
      const secret = randomBytes(32).toString('base64url');
      const sample = await startSampleUpstream(secret, host);
      cleanups.push(() => sample.stop());
      log(`Sample upstream on ${sample.url}`);
      upstreams = { sample: { url: sample.url, secret } };
    }

    cleanups.push(
      applyEnvironment({
        TABLE_NAME: tableName,
        PROXY_UPSTREAMS: JSON.stringify(upstreams),
        DYNAMODB_ENDPOINT: dynamoEndpoint,
        LOCAL_MODE: 'true',
        ADMIN_API_KEY: adminApiKey,
        EVENT_BUS_NAME: 'credits-local',
        // Signs pagination cursors: CURSOR_KEY when given, else a new key per start (older cursors are then
        // refused with a 400, as after a key rotation in the cloud).
        CURSOR_KEY: process.env.CURSOR_KEY || randomBytes(32).toString('base64url'),
        AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
        // No CloudWatch here: EMF lines on every request would only bury the useful output.
        POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
        ...(quiet ? { POWERTOOLS_LOG_LEVEL: 'SILENT' } : {}),
        ...(stripe
          ? {
              STRIPE_SECRET_KEY: stripe.secretKey,
              STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
              STRIPE_API_HOST: stripe.stripeClientOptions.host,
              STRIPE_API_PORT: String(stripe.stripeClientOptions.port),
              STRIPE_API_PROTOCOL: stripe.stripeClientOptions.protocol,
            }
          : {}),
        ...(marketplace ? { MARKETPLACE_METERING_ENDPOINT: marketplace.endpoint } : {}),
        RATE_LIMIT_SYNC: 'off',
        ...Object.fromEntries(
          Object.entries(options.rateLimits ?? {}).map(([name, value]) => [name, String(value)]),
        ),
      }),
    );
    // Read now: a bad rate limit stops the start here, naming the variable, rather than failing every request.
    const rateLimits = { token: config.rateLimit, account: config.accountRateLimit };
    // A document client created earlier in this process may point at another endpoint.
    const { setDocumentClient } = await import('#shared/dynamo/client.ts');
    setDocumentClient(undefined);
    // Likewise a Stripe client made for another stack's emulator (or key).
    const { resetStripeClient } = await import('#shared/payments/stripe-client.ts');
    resetStripeClient();
    const { resetMeteringClient } = await import('#shared/marketplace/client.ts');
    resetMeteringClient();
    // The refill queue (SQS in the cloud): each request runs the worker on its own, after the answer.
    const queue = globalThis as LocalRefillQueue;
    const previousQueue = queue.__localRefillQueue;
    queue.__localRefillQueue = (accountId) => {
      setImmediate(() => {
        const message = { messageId: randomUUID(), body: JSON.stringify({ account_id: accountId }) };
        invoke('refillWorker', { Records: [message] }).catch((error: unknown) =>
          console.error('local refill worker failed:', error),
        );
      });
    };
    cleanups.push(() => {
      queue.__localRefillQueue = previousQueue;
    });
    // The invoice queue (SQS in the cloud): batches run the worker, at most LOCAL_INVOICE_WORKERS at once,
    // and the job waits for them so its answer reports what was invoiced.
    const invoiceQueue = globalThis as LocalInvoiceQueue;
    const previousInvoiceQueue = invoiceQueue.__localInvoiceQueue;
    invoiceQueue.__localInvoiceQueue = workPool(async (batch) => {
      const Records = batch.map((work) => ({ messageId: randomUUID(), body: JSON.stringify(work) }));
      const result = (await invoke('invoiceWorker', { Records })) as { reports?: unknown[] };
      return result.reports ?? [];
    }, LOCAL_INVOICE_WORKERS);
    cleanups.push(() => {
      invoiceQueue.__localInvoiceQueue = previousInvoiceQueue;
    });
    // The webhook delivery queue (SQS in the cloud): attempts wait in-process until due by the shared clock
    // (so a moved clock brings retries due), then run, one pass at a time.
    const { runDueWebhookDeliveries } = await import('#shared/webhook-endpoints/deliver.ts');
    let webhookPass: Promise<unknown> | undefined;
    const webhookTimer = setInterval(() => {
      webhookPass ??= runDueWebhookDeliveries()
        .catch((error: unknown) => console.error('local webhook deliveries failed:', error))
        .finally(() => {
          webhookPass = undefined;
        });
    }, WEBHOOK_QUEUE_POLL_MS);
    webhookTimer.unref();
    cleanups.push(async () => {
      clearInterval(webhookTimer);
      await webhookPass;
    });
    const sink = globalThis as LocalEventSink;
    const previousEvents = sink.__localEvents;
    sink.__localEvents = [];
    // The notification queue (a rule on the bus → SQS in the cloud): each event runs the notify worker after
    // the outbox delivered it, and a failed one is redelivered like SQS would, a few times.
    const previousNotify = sink.__localNotify;
    let stopped = false;
    const notify = (events: { event_id: string }[], attempt: number): void => {
      const Records = events.map((event) => ({
        messageId: event.event_id,
        body: JSON.stringify({ 'detail-type': 'billing event', detail: event }),
        attributes: { ApproximateReceiveCount: String(attempt) },
      }));
      invoke('notify', { Records })
        .then((result) => {
          const failed = new Set(
            ((result as { batchItemFailures?: { itemIdentifier: string }[] }).batchItemFailures ?? []).map(
              (failure) => failure.itemIdentifier,
            ),
          );
          const again = events.filter((event) => failed.has(event.event_id));
          if (again.length > 0 && attempt < LOCAL_NOTIFY_ATTEMPTS && !stopped) {
            setTimeout(() => notify(again, attempt + 1), LOCAL_NOTIFY_RETRY_MS).unref();
          }
        })
        .catch((error: unknown) => console.error('local notify worker failed:', error));
    };
    sink.__localNotify = (events) => {
      setImmediate(() => notify(events, 1));
    };
    cleanups.push(() => {
      stopped = true;
      sink.__localEvents = previousEvents;
      sink.__localNotify = previousNotify;
    });

    // The table's stream (Lambda event source mappings in the cloud): billing events reach the sink above
    // within about a poll interval of their change.
    const poller = await startStreamPoller({
      endpoint: dynamoEndpoint,
      tableName,
      invoke,
      intervalMs: STREAM_POLL_MS,
      onError: (name, error) => console.error(`local stream consumer ${name} failed; retrying:`, error),
    });
    cleanups.push(() => poller.stop());

    const demo = (options.seedDemo ?? true) ? await demoAccount(state, log) : undefined;
    if (state && dataDirectory) writeStackState(dataDirectory, state);

    const jobs = createJobRunner({ invoke, log });
    cleanups.push(() => jobs.stop());
    if (options.runJobs ?? true) jobs.start();

    const server = createServer(async (request, response) => {
      const gatewayRequestId = randomUUID();
      const timeEpoch = nowMs();
      const requestId = requestIdFor(gatewayRequestId, timeEpoch);
      const started = performance.now();
      const path = (request.url ?? '/').split('?')[0]!;
      let answer: HttpAnswer;
      let tooLarge = false;
      try {
        const body = await readBody(request);
        tooLarge = body === undefined;
        answer = body
          ? await dispatch({
              request,
              path,
              body,
              gatewayRequestId,
              timeEpoch,
              requestId,
              adminApiKey,
              jobs,
              marketplace,
            })
          : errorAnswer(new PayloadTooLargeError(MAX_BODY_BYTES), requestId);
      } catch (error) {
        if (errorResponse(error).status === 500) console.error(`${request.method} ${path} failed:`, error);
        answer = errorAnswer(error, requestId);
      }
      send(response, answer, tooLarge);
      log(`${request.method} ${path} ${answer.status} ${Math.round(performance.now() - started)}ms`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 3000, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const { port } = server.address() as AddressInfo;
    const url = `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${port}`;
    // Known only now that the stack listens; no Stripe call can have happened before.
    stripe?.setWebhookUrl(`${url}/webhooks/stripe`);
    // Where Stripe sends the customer back after paying (checkout's success and cancel pages).
    cleanups.push(applyEnvironment({ PUBLIC_BASE_URL: url.replace('127.0.0.1', 'localhost') }));
    return {
      url,
      port,
      adminApiKey,
      ...(demo ? { demo } : {}),
      ...(dataDirectory ? { dataDirectory } : {}),
      dynamoEndpoint,
      ...(stripe ? { stripe } : {}),
      ...(marketplace ? { marketplace } : {}),
      upstreams,
      rateLimits,
      drainStream: () => poller.drain(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
