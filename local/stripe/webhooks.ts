// Stripe emulator: webhook delivery as Stripe does it. Each event is POSTed on its own (so they may arrive
// in any order) with a `stripe-signature` header, retried with exponential backoff until a 2xx; nothing here
// ever blocks an API response.
import { createHmac } from 'node:crypto';
import { nowMs } from '#shared/clock.ts';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.payload">`, what `stripe.webhooks.constructEvent` verifies. */
function signatureHeader(payload: string, secret: string, timestamp: number): string {
  const signature = createHmac('sha256', secret).update(`${timestamp}.${payload}`).digest('hex');
  return `t=${timestamp},v1=${signature}`;
}

export type DeliveryAttempt = {
  event_id: string;
  attempt: number;
  /** Clock time of the attempt, ms. */
  at: number;
  url: string;
  status?: number;
  error?: string;
  delivered: boolean;
};

export type WebhookDispatcher = {
  /** Sends `payload` now and retries it until a 2xx or `maxAttempts`; returns at once. */
  deliver(eventId: string, payload: string): void;
  attempts(): DeliveryAttempt[];
  /** Resolves once no delivery is in flight or waiting for a retry. */
  idle(): Promise<void>;
  stop(): Promise<void>;
};

const ATTEMPT_TIMEOUT_MS = 10_000;

export function createWebhookDispatcher(options: {
  secret: string;
  url: () => string | undefined;
  retryBaseMs: number;
  maxAttempts: number;
  onDelivered: (eventId: string) => void;
  log: (message: string) => void;
}): WebhookDispatcher {
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  const history: DeliveryAttempt[] = [];
  const idleWaiters: (() => void)[] = [];
  const aborter = new AbortController();
  let stopped = false;

  const settleIfIdle = () => {
    if (timers.size > 0 || inFlight.size > 0) return;
    for (const resolve of idleWaiters.splice(0)) resolve();
  };

  const schedule = (delayMs: number, run: () => void) => {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
      settleIfIdle();
    }, delayMs);
    timers.add(timer);
  };

  const attempt = (eventId: string, payload: string, number: number) => {
    const url = options.url();
    if (stopped || !url) return;
    const record: DeliveryAttempt = {
      event_id: eventId,
      attempt: number,
      at: nowMs(),
      url,
      delivered: false,
    };
    history.push(record);
    const sending = (async () => {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
            'stripe-signature': signatureHeader(payload, options.secret, Math.floor(nowMs() / 1000)),
          },
          body: payload,
          signal: AbortSignal.any([aborter.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
        });
        await response.arrayBuffer().catch(() => undefined);
        record.status = response.status;
        record.delivered = response.ok;
      } catch (error) {
        record.error = error instanceof Error ? error.message : String(error);
      }
      if (record.delivered) {
        options.onDelivered(eventId);
        return;
      }
      if (stopped) return;
      const outcome = record.status === undefined ? record.error : `HTTP ${record.status}`;
      if (number >= options.maxAttempts) {
        options.log(`stripe emulator: gave up delivering ${eventId} after ${number} attempts (${outcome})`);
        return;
      }
      const delay = options.retryBaseMs * 2 ** (number - 1);
      options.log(`stripe emulator: delivering ${eventId} failed (${outcome}); retrying in ${delay}ms`);
      schedule(delay, () => attempt(eventId, payload, number + 1));
    })();
    inFlight.add(sending);
    void sending.finally(() => {
      inFlight.delete(sending);
      settleIfIdle();
    });
  };

  return {
    deliver(eventId, payload) {
      // Next macrotask: the API answer that caused the event is written first.
      schedule(0, () => attempt(eventId, payload, 1));
    },
    attempts: () => [...history],
    idle() {
      if (timers.size === 0 && inFlight.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      aborter.abort();
      await Promise.allSettled([...inFlight]);
      for (const resolve of idleWaiters.splice(0)) resolve();
    },
  };
}
