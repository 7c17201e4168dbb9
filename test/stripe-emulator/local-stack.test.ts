// The emulator inside the local stack: started with it, the handlers' environment pointed at it, its
// webhooks signed for and delivered to the stack's `/webhooks/stripe`, stopped with it; off when asked.
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { startLocalStack } from '../../local/server.ts';

const stackOptions = () => ({
  port: 0,
  adminApiKey: 'test-admin-key',
  dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
  tableName: `stripe-wiring-${randomUUID().slice(0, 8)}`,
  seedDemo: false,
  runJobs: false,
  quiet: true,
});

describe('local stack wiring', () => {
  it('runs the emulator, points the handlers at it and delivers its webhooks to /webhooks/stripe', async () => {
    const previousKey = process.env.STRIPE_SECRET_KEY;
    const stack = await startLocalStack({ ...stackOptions(), stripe: { webhookRetryBaseMs: 20 } });
    try {
      const emulator = stack.stripe!;
      expect(emulator.secretKey).toMatch(/^sk_test_emulator_/);
      expect(process.env).toMatchObject({
        STRIPE_SECRET_KEY: emulator.secretKey,
        STRIPE_WEBHOOK_SECRET: emulator.webhookSecret,
        STRIPE_API_HOST: '127.0.0.1',
        STRIPE_API_PORT: String(emulator.port),
        STRIPE_API_PROTOCOL: 'http',
      });
      // The client the product builds from those variables reaches the emulator.
      const stripe = new Stripe(process.env.STRIPE_SECRET_KEY!, {
        host: process.env.STRIPE_API_HOST!,
        port: Number(process.env.STRIPE_API_PORT),
        protocol: 'http',
        telemetry: false,
      });
      const customer = await stripe.customers.create({ name: 'Wired' });
      const event = await emulator.control.waitForEvent('customer.created', {
        match: (e) => (e.data.object as { id: string }).id === customer.id,
      });
      await emulator.control.idle();
      const [attempt] = emulator.control.deliveries(event.id);
      expect(attempt).toMatchObject({ url: `${stack.url}/webhooks/stripe`, delivered: true });
    } finally {
      await stack.stop();
    }
    expect(process.env.STRIPE_SECRET_KEY).toBe(previousKey);
  });

  it('starts no emulator with stripe: false', async () => {
    const stack = await startLocalStack({ ...stackOptions(), stripe: false });
    try {
      expect(stack.stripe).toBeUndefined();
      expect(process.env.STRIPE_SECRET_KEY ?? '').not.toMatch(/^sk_test_emulator_/);
    } finally {
      await stack.stop();
    }
  });
});
