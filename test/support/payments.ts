// The Stripe emulator wired to the real webhook handler in-process: the product talks to the emulator
// through the real `stripe` SDK, and every webhook the emulator delivers is handed to the handler the route
// table names for `POST /webhooks/stripe`, with its exact raw body and signature.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { resetStripeClient } from '#shared/payments/stripe-client.ts';
import { type StripeEmulator, startStripeEmulator } from '../../local/stripe/emulator.ts';
import { call } from './api.ts';

export type Payments = {
  emulator: StripeEmulator;
  stripe: Stripe;
  webhookSecret: string;
  /** Where the emulator delivers webhooks (the in-process handler); tests that hold deliveries restore it. */
  webhookUrl: string;
  stop(): Promise<void>;
};

/** Hands a raw webhook to the handler, as API Gateway would; answers its status. */
export async function deliverWebhook(raw: string, signature: string, options: { base64?: boolean } = {}) {
  return call('POST', '/webhooks/stripe', {
    rawBody: options.base64 ? Buffer.from(raw).toString('base64') : raw,
    headers: { 'stripe-signature': signature },
    base64: options.base64 ?? false,
  });
}

export async function startPayments(): Promise<Payments> {
  const webhookSecret = `whsec_${randomBytes(16).toString('hex')}`;
  const receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const answer = await deliverWebhook(raw, String(request.headers['stripe-signature'] ?? ''));
      response.statusCode = answer.status;
      response.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  const webhookUrl = `http://127.0.0.1:${port}/webhooks/stripe`;
  const emulator = await startStripeEmulator({
    webhookSecret,
    webhookUrl,
    fundingDelayMs: Number.POSITIVE_INFINITY,
    webhookRetryBaseMs: 50,
  });
  process.env.STRIPE_SECRET_KEY = emulator.secretKey;
  process.env.STRIPE_WEBHOOK_SECRET = webhookSecret;
  process.env.STRIPE_API_HOST = emulator.stripeClientOptions.host;
  process.env.STRIPE_API_PORT = String(emulator.stripeClientOptions.port);
  process.env.STRIPE_API_PROTOCOL = 'http';
  process.env.PUBLIC_BASE_URL = 'http://localhost:3000';
  resetStripeClient();
  const stripe = new Stripe(emulator.secretKey, { ...emulator.stripeClientOptions, telemetry: false });
  return {
    emulator,
    stripe,
    webhookSecret,
    webhookUrl,
    stop: async () => {
      await emulator.stop();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    },
  };
}
