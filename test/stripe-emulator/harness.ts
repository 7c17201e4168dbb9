// Test harness for the Stripe emulator contract suite: an emulator, the real SDK pointed at it, and a
// webhook receiver that verifies every delivery with `stripe.webhooks.constructEvent` on the raw body.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { nowMs } from '#shared/clock.ts';
import {
  type StripeEmulator,
  type StripeEmulatorOptions,
  startStripeEmulator,
} from '../../local/stripe/emulator.ts';

export type Delivery = { event: Stripe.Event; raw: string; signature: string; status: number };

export type WebhookReceiver = {
  url: string;
  deliveries: Delivery[];
  /** Answer the next `count` deliveries with `status` (e.g. 500) before accepting again. */
  failNext(count: number, status?: number): void;
  /** The first verified delivery of `type` (past or future) that `match` accepts. */
  waitFor(type: string, match?: (event: Stripe.Event) => boolean, timeoutMs?: number): Promise<Delivery>;
  /** Signature failures seen (should stay empty). */
  rejected: string[];
  close(): Promise<void>;
};

export async function startReceiver(secret: string): Promise<WebhookReceiver> {
  const deliveries: Delivery[] = [];
  const rejected: string[] = [];
  const waiters: { accepts: (delivery: Delivery) => boolean; resolve: (delivery: Delivery) => void }[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 500 };
  const verifier = new Stripe('sk_test_unused', { telemetry: false });

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const signature = String(request.headers['stripe-signature'] ?? '');
      let event: Stripe.Event;
      try {
        // Verified against the shared clock, as the product's handler does, so a moved clock still verifies.
        event = verifier.webhooks.constructEvent(raw, signature, secret, 300, undefined, nowMs());
      } catch (error) {
        rejected.push((error as Error).message);
        response.statusCode = 400;
        response.end();
        return;
      }
      const status = failures.count > 0 ? failures.status : 200;
      if (failures.count > 0) failures = { ...failures, count: failures.count - 1 };
      const delivery = { event, raw, signature, status };
      deliveries.push(delivery);
      response.statusCode = status;
      response.end();
      if (status >= 300) return;
      for (const waiter of waiters.splice(0)) {
        if (waiter.accepts(delivery)) waiter.resolve(delivery);
        else waiters.push(waiter);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/webhooks/stripe`,
    deliveries,
    rejected,
    failNext(count, status = 500) {
      failures = { count, status };
    },
    waitFor(type, match = () => true, timeoutMs = 5000) {
      const accepts = (delivery: Delivery) =>
        delivery.status < 300 && delivery.event.type === type && match(delivery.event);
      const found = deliveries.find(accepts);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${type} delivery within ${timeoutMs}ms`)),
          timeoutMs,
        );
        waiters.push({
          accepts,
          resolve: (delivery) => {
            clearTimeout(timer);
            resolve(delivery);
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type Harness = {
  emulator: StripeEmulator;
  stripe: Stripe;
  receiver: WebhookReceiver;
  stop(): Promise<void>;
};

export const WEBHOOK_SECRET = 'whsec_emulator_contract_suite';

export async function startHarness(options: Partial<StripeEmulatorOptions> = {}): Promise<Harness> {
  const receiver = await startReceiver(WEBHOOK_SECRET);
  const emulator = await startStripeEmulator({
    webhookSecret: WEBHOOK_SECRET,
    webhookUrl: receiver.url,
    fundingDelayMs: 150,
    webhookRetryBaseMs: 20,
    ...options,
  });
  const stripe = new Stripe(emulator.secretKey, {
    ...emulator.stripeClientOptions,
    telemetry: false,
    maxNetworkRetries: 0,
  });
  return {
    emulator,
    stripe,
    receiver,
    async stop() {
      await emulator.stop();
      await receiver.close();
    },
  };
}

export const objectId = (id: string) => (event: Stripe.Event) =>
  (event.data.object as { id: string }).id === id;

/** A customer and an open payment-mode session that saves card and PayPal for off-session use. */
export async function openSession(
  stripe: Stripe,
  overrides: Partial<Stripe.Checkout.SessionCreateParams> = {},
): Promise<{ customer: Stripe.Customer; session: Stripe.Checkout.Session }> {
  const customer = await stripe.customers.create({
    name: 'Ada',
    email: 'ada@example.com',
    metadata: { account_id: 'acc_1' },
  });
  const session = await stripe.checkout.sessions.create({
    mode: 'payment',
    customer: customer.id,
    line_items: [
      {
        quantity: 1,
        price_data: { currency: 'usd', unit_amount: 2500, product_data: { name: 'API credits' } },
      },
    ],
    payment_method_options: {
      card: { setup_future_usage: 'off_session' },
      paypal: { setup_future_usage: 'off_session' },
      customer_balance: { funding_type: 'bank_transfer', bank_transfer: { type: 'us_bank_transfer' } },
    },
    metadata: { account_id: 'acc_1', purchase_id: 'pur_1' },
    payment_intent_data: { metadata: { account_id: 'acc_1', purchase_id: 'pur_1' } },
    success_url: 'https://app.example.com/billing/return?session_id={CHECKOUT_SESSION_ID}',
    cancel_url: 'https://app.example.com/billing',
    ...overrides,
  });
  return { customer, session };
}

/** Submits the hosted page as a script does. */
export function submitPage(
  session: Stripe.Checkout.Session,
  fields: Record<string, string>,
  accept: 'json' | 'html' = 'json',
): Promise<Response> {
  return fetch(session.url!, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(accept === 'json' ? { accept: 'application/json' } : {}),
    },
    body: new URLSearchParams(fields).toString(),
  });
}
