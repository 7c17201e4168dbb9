// `npm start`'s data directory without Java: the lock, `--fresh`, and the emulators' state across a restart
// (a saved card, an idempotent retry, an undelivered webhook, a registered buyer and its billed usage).
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchMeterUsageCommand,
  MarketplaceMeteringClient,
  ResolveCustomerCommand,
} from '@aws-sdk/client-marketplace-metering';
import Stripe from 'stripe';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirectoryInUseError, emptyDataDirectory, lockDataDirectory } from '../../local/data-dir.ts';
import { startMarketplaceEmulator } from '../../local/marketplace/emulator.ts';
import { startStripeEmulator } from '../../local/stripe/emulator.ts';
import { openSession, startReceiver, submitPage } from '../stripe-emulator/harness.ts';

const root = mkdtempSync(join(tmpdir(), 'data-dir-'));
let folders = 0;
const freshFolder = () => {
  const folder = join(root, String(folders++));
  mkdirSync(folder);
  return folder;
};

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A pid that belonged to a process and no longer does (a run that was killed). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

describe('the data directory lock', () => {
  it('refuses a directory a running process holds, naming it, and leaves the lock as it was', () => {
    const directory = freshFolder();
    // The test runner's parent stands in for another running npm start.
    writeFileSync(join(directory, 'lock'), String(process.ppid));
    expect(() => lockDataDirectory(directory)).toThrow(DataDirectoryInUseError);
    expect(() => lockDataDirectory(directory)).toThrow(
      `${directory} is in use by another npm start (pid ${process.ppid}); stop it or set LOCAL_DATA_DIR to another folder`,
    );
    expect(readFileSync(join(directory, 'lock'), 'utf8')).toBe(String(process.ppid));
    expect(readdirSync(directory)).toEqual(['lock']);
  });

  it('takes over the lock of a process that is gone, and gives it back on release', () => {
    const directory = freshFolder();
    writeFileSync(join(directory, 'lock'), String(deadPid()));
    const lock = lockDataDirectory(directory);
    expect(readFileSync(join(directory, 'lock'), 'utf8')).toBe(String(process.pid));
    lock.release();
    expect(readdirSync(directory)).toEqual([]);
  });

  it('creates a missing directory, and --fresh empties it but for the lock', () => {
    const directory = join(freshFolder(), 'nested', 'data');
    const lock = lockDataDirectory(directory);
    mkdirSync(join(directory, 'dynamodb'));
    writeFileSync(join(directory, 'dynamodb', 'shared-local-instance.db'), 'rows');
    writeFileSync(join(directory, 'stack.json'), '{}');
    emptyDataDirectory(directory);
    expect(readdirSync(directory)).toEqual(['lock']);
    lock.release();
  });
});

describe('the Stripe emulator with a state file', () => {
  const secret = 'whsec_restart_suite';

  async function start(stateFile: string, webhookUrl: string) {
    const emulator = await startStripeEmulator({
      webhookSecret: secret,
      webhookUrl,
      webhookRetryBaseMs: 60_000,
      stateFile,
    });
    const stripe = new Stripe(emulator.secretKey, {
      ...emulator.stripeClientOptions,
      telemetry: false,
      maxNetworkRetries: 0,
    });
    return { emulator, stripe };
  }

  it('keeps saved cards with their behaviour, idempotent answers and undelivered events across a restart', async () => {
    // Prepare: two cards saved through checkout, one off-session charge, while the receiver is down.
    const stateFile = join(freshFolder(), 'stripe.json');
    const receiver = await startReceiver(secret);
    const first = await start(stateFile, 'http://127.0.0.1:9/unreachable');
    const saved = async (cardNumber: string) => {
      const { customer, session } = await openSession(first.stripe);
      expect((await submitPage(session, { payment_method: 'card', card_number: cardNumber })).status).toBe(
        200,
      );
      const done = await first.stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
      return {
        customer: customer.id,
        method: (done.payment_intent as Stripe.PaymentIntent).payment_method as string,
      };
    };
    const good = await saved('4242424242424242');
    const declining = await saved('4000000000000341');
    const charge = (card: { customer: string; method: string }, stripe: Stripe, key: string) =>
      stripe.paymentIntents.create(
        {
          amount: 2000,
          currency: 'usd',
          customer: card.customer,
          payment_method: card.method,
          off_session: true,
          confirm: true,
        },
        { idempotencyKey: key },
      );
    const before = await charge(good, first.stripe, 'refill-1');
    await first.emulator.stop();

    // Act: start again from the file, with the receiver up.
    const second = await start(stateFile, receiver.url);
    try {
      // Assess: the same objects, the same answer to a retried key, each card as it behaved.
      expect((await second.stripe.customers.retrieve(good.customer)).id).toBe(good.customer);
      expect((await charge(good, second.stripe, 'refill-1')).id).toBe(before.id);
      expect(await second.stripe.paymentIntents.list({ customer: good.customer })).toMatchObject({
        data: expect.arrayContaining([expect.objectContaining({ id: before.id })]),
      });
      expect((await charge(good, second.stripe, 'refill-2')).status).toBe('succeeded');
      const declined = await charge(declining, second.stripe, 'refill-3').catch((error: unknown) => error);
      expect(declined).toMatchObject({ statusCode: 402, code: 'card_declined' });
      // The first run's payment_intent.succeeded never reached anyone; it is delivered now.
      const delivered = await receiver.waitFor(
        'payment_intent.succeeded',
        (event) => (event.data.object as { id: string }).id === before.id,
      );
      expect(delivered.event.id).toBe(
        second.emulator.control
          .events('payment_intent.succeeded')
          .find((event) => (event.data.object as { id: string }).id === before.id)?.id,
      );
    } finally {
      await second.emulator.stop();
      await receiver.close();
    }
  });

  it('refuses a state file it cannot read, saying which', async () => {
    const stateFile = join(freshFolder(), 'stripe.json');
    writeFileSync(stateFile, '{"format": 99}');
    await expect(startStripeEmulator({ webhookSecret: secret, stateFile })).rejects.toThrow(
      `${stateFile} is not a state file this version can read`,
    );
  });
});

describe('the Marketplace emulator with a state file', () => {
  it('keeps a registered buyer and its billed usage across a restart', async () => {
    // Prepare: a buyer and one billed record.
    const stateFile = join(freshFolder(), 'marketplace.json');
    const first = await startMarketplaceEmulator({ stateFile });
    const buyer = first.control.mintCustomer();
    const record = {
      Timestamp: new Date(Date.now() - 60_000),
      CustomerAWSAccountId: buyer.customer_aws_account_id,
      LicenseArn: buyer.license_arn,
      Dimension: 'api_calls',
      Quantity: 3,
    };
    const meter = async (endpoint: MarketplaceMeteringClient) =>
      endpoint.send(new BatchMeterUsageCommand({ UsageRecords: [record] }));
    const firstClient = new MarketplaceMeteringClient({ ...first.clientConfig, maxAttempts: 1 });
    const billed = (await meter(firstClient)).Results?.[0];
    expect(billed?.Status).toBe('Success');
    firstClient.destroy();
    await first.stop();

    // Act: start again from the file.
    const second = await startMarketplaceEmulator({ stateFile });
    const client = new MarketplaceMeteringClient({ ...second.clientConfig, maxAttempts: 1 });
    try {
      // Assess: the token still resolves, and the same record is answered again, not billed twice.
      const resolved = await client.send(
        new ResolveCustomerCommand({ RegistrationToken: buyer.registration_token }),
      );
      expect(resolved.CustomerAWSAccountId).toBe(buyer.customer_aws_account_id);
      const again = (await meter(client)).Results?.[0];
      expect(again).toMatchObject({ Status: 'Success', MeteringRecordId: billed?.MeteringRecordId });
      expect(second.control.records().map((stored) => stored.replayed ?? false)).toEqual([false, true]);
    } finally {
      client.destroy();
      await second.stop();
    }
    expect(existsSync(stateFile)).toBe(true);
  });
});
