// Local Stripe emulator: a node:http server the real `stripe` SDK talks to (`new Stripe(secretKey,
// { ...stripeClientOptions, telemetry: false })`), with in-memory state, the hosted checkout and invoice
// pages, signed webhooks and test controls. Local mode and tests only; the cloud talks to Stripe.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { debouncedStateWriter, readStateFile, StateFileUnreadableError } from '../state-file.ts';
import { handleApi } from './api.ts';
import { serveCheckoutPage } from './checkout-page.ts';
import type { EmulatorContext } from './context.ts';
import { createControl, type StripeEmulatorControl, serveControls } from './controls.ts';
import { errorPayload, StripeApiError } from './errors.ts';
import { createEventLog, markDelivered } from './events.ts';
import { type Answer, json, readBody, send } from './http.ts';
import { createIdempotencyCache } from './idempotency.ts';
import { randomToken } from './ids.ts';
import { serveInvoicePage } from './invoice-page.ts';
import { restoreStripeState, saveStripeState } from './persistence.ts';
import { serveReceiptPages } from './receipt-page.ts';
import { fundDueTransfers, fundPaymentIntent } from './resources/bank-transfers.ts';
import { expireDueSessions } from './resources/checkout-sessions.ts';
import { notifyOverdueInvoices } from './resources/invoices.ts';
import { createStore } from './store.ts';
import { createWebhookDispatcher } from './webhooks.ts';

export type { CheckoutCompletion, StripeEmulatorControl } from './controls.ts';
export type { CheckoutSubmission } from './resources/checkout-payments.ts';
export type { DeliveryAttempt } from './webhooks.ts';

export type StripeEmulatorOptions = {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where events are POSTed; set later with `setWebhookUrl` when the receiver starts after the emulator. */
  webhookUrl?: string;
  /** Signs every delivery (`whsec_…`); the receiver verifies with it. */
  webhookSecret: string;
  /** How long a bank transfer takes to arrive on its own; default 3000. `Infinity`: only when told (`fund`). */
  fundingDelayMs?: number;
  /** First retry delay after a failed delivery, doubling each time; default 1000. */
  webhookRetryBaseMs?: number;
  /** Attempts per event before giving up; default 8. */
  webhookMaxAttempts?: number;
  /** Where delivery failures and internal errors are reported; default: nowhere. */
  log?: (message: string) => void;
  /**
   * Keep the state in this JSON file across restarts (`npm start`): read on start, written
   * `STATE_WRITE_DELAY_MS` after a change and on stop. Default: in memory only.
   */
  stateFile?: string;
};

export type StripeEmulator = {
  /** `http://host:port`: hosted pages live under it. */
  url: string;
  port: number;
  /** `sk_test_emulator_…`, the only key the API accepts. */
  secretKey: string;
  webhookSecret: string;
  /** Spread into `new Stripe(secretKey, { ...stripeClientOptions })`. */
  stripeClientOptions: { host: string; port: number; protocol: 'http' };
  setWebhookUrl(url: string | undefined): void;
  /** Test controls: disputes, bank transfer funding, card updates, resends, event log. */
  control: StripeEmulatorControl;
  /** Stops the server and cancels every pending delivery, retry and funding timer. */
  stop(): Promise<void>;
};

const SWEEP_INTERVAL_MS = 1000;

/** A crash loses at most this much of the emulator's changes; a burst of requests costs one write. */
export const STATE_WRITE_DELAY_MS = 200;

function restore(stateFile: string | undefined) {
  const saved = stateFile ? readStateFile(stateFile) : undefined;
  if (saved === undefined) return undefined;
  const restored = restoreStripeState(saved);
  if (!restored) throw new StateFileUnreadableError(stateFile ?? '', 'not a saved Stripe emulator state');
  return restored;
}

export async function startStripeEmulator(options: StripeEmulatorOptions): Promise<StripeEmulator> {
  const log = options.log ?? (() => {});
  const restored = restore(options.stateFile);
  const store = restored?.store ?? createStore();
  let webhookUrl = options.webhookUrl;
  const secretKey = `sk_test_emulator_${randomToken(24)}`;
  const fundingTimers = new Set<NodeJS.Timeout>();

  const dispatcher = createWebhookDispatcher({
    secret: options.webhookSecret,
    url: () => webhookUrl,
    retryBaseMs: options.webhookRetryBaseMs ?? 1000,
    maxAttempts: options.webhookMaxAttempts ?? 8,
    onDelivered: (eventId) => {
      markDelivered(events, eventId);
      state?.changed();
    },
    log,
  });
  const events = createEventLog({
    store,
    dispatcher,
    webhookUrl: () => webhookUrl,
    ...(restored ? { restored: restored.events } : {}),
  });
  // Events the last run had not delivered yet go out once the receiver is known.
  const undelivered = (restored?.events ?? []).filter(({ event }) => event.pending_webhooks > 0);

  const guarded = (what: string, work: () => void) => {
    try {
      work();
    } catch (error) {
      log(`stripe emulator: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  const ctx: EmulatorContext = {
    store,
    events,
    baseUrl: '',
    fundingDelayMs: options.fundingDelayMs ?? 3000,
    scheduleFunding(paymentIntentId, delayMs) {
      const timer = setTimeout(() => {
        fundingTimers.delete(timer);
        if (store.pendingTransfers.has(paymentIntentId)) {
          guarded(`funding ${paymentIntentId}`, () => fundPaymentIntent(ctx, paymentIntentId));
        }
      }, delayMs);
      fundingTimers.add(timer);
    },
  };

  const runDue = () => {
    guarded('expiring sessions', () => expireDueSessions(ctx));
    guarded('funding transfers', () => fundDueTransfers(ctx));
    guarded('reporting overdue invoices', () => notifyOverdueInvoices(ctx));
  };

  const idempotency = createIdempotencyCache(restored?.idempotency);
  const stateFile = options.stateFile;
  const state = stateFile
    ? debouncedStateWriter(
        stateFile,
        () => saveStripeState(store, events.saved(), idempotency.saved()),
        STATE_WRITE_DELAY_MS,
        (error) => log(`stripe emulator: saving ${stateFile} failed: ${(error as Error)?.message}`),
      )
    : undefined;
  // Every state change emits an event; the few that do not (a session's offer, a card's behaviour) come
  // with a request, so both mark the state changed.
  if (state) events.subscribe(() => state.changed());
  const control = createControl(ctx, dispatcher, runDue);

  const route = (request: IncomingMessage, url: URL, body: string): Answer => {
    if (url.pathname.startsWith('/v1/'))
      return handleApi({ ctx, secretKey, idempotency, runDue, log }, request, url, body);
    runDue();
    return (
      serveCheckoutPage(ctx, request, url.pathname, body) ??
      serveInvoicePage(ctx, request, url.pathname, body) ??
      serveReceiptPages(ctx, request.method ?? 'GET', url.pathname) ??
      serveControls(control, request, url, body) ??
      json(404, { error: { type: 'invalid_request_error', message: `Nothing at ${url.pathname}` } })
    );
  };

  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://emulator');
    state?.changed();
    try {
      send(response, route(request, url, await readBody(request)));
    } catch (error) {
      if (error instanceof StripeApiError) {
        send(response, {
          status: error.status,
          headers: { 'content-type': 'application/json' },
          body: errorPayload(error, 'req_emulator'),
        });
        return;
      }
      log(
        `stripe emulator: ${request.method} ${url.pathname} failed: ${(error as Error)?.stack ?? String(error)}`,
      );
      send(
        response,
        json(500, { error: { type: 'api_error', message: 'Internal error in the Stripe emulator.' } }),
      );
    }
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const reachableHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  ctx.baseUrl = `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${port}`;

  const resendUndelivered = () => {
    if (!webhookUrl) return;
    for (const { event, payload } of undelivered.splice(0)) dispatcher.deliver(event.id, payload);
  };
  resendUndelivered();

  const sweep = setInterval(runDue, SWEEP_INTERVAL_MS);
  sweep.unref();

  return {
    url: ctx.baseUrl,
    port,
    secretKey,
    webhookSecret: options.webhookSecret,
    stripeClientOptions: { host: reachableHost, port, protocol: 'http' },
    setWebhookUrl(url) {
      webhookUrl = url;
      resendUndelivered();
    },
    control,
    async stop() {
      clearInterval(sweep);
      for (const timer of fundingTimers) clearTimeout(timer);
      fundingTimers.clear();
      await dispatcher.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      state?.flush();
    },
  };
}
