// Marketplace emulator: ResolveCustomer through the real SDK (valid, unknown and expired tokens).
import {
  ExpiredTokenException,
  InvalidTokenException,
  ResolveCustomerCommand,
} from '@aws-sdk/client-marketplace-metering';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { advanceClock, resetClock, setClock } from '#shared/clock.ts';
import { type Harness, startHarness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

afterEach(() => {
  resetClock();
});

describe('ResolveCustomer', () => {
  it('resolves a minted buyer', async () => {
    const buyer = h.emulator.control.mintCustomer();
    expect(buyer.customer_aws_account_id).toMatch(/^\d{12}$/);
    expect(buyer.license_arn).toMatch(/^arn:aws:license-manager::\d{12}:license:l-[0-9a-f]{32}$/);
    const out = await h.client.send(
      new ResolveCustomerCommand({ RegistrationToken: buyer.registration_token }),
    );
    expect(out).toMatchObject({
      CustomerIdentifier: buyer.customer_identifier,
      ProductCode: buyer.product_code,
      CustomerAWSAccountId: buyer.customer_aws_account_id,
      LicenseArn: buyer.license_arn,
    });
    expect(buyer.customer_identifier).not.toBe('');
  });

  it('answers an empty CustomerIdentifier for Concurrent Agreements products', async () => {
    const response = await fetch(`${h.emulator.url}/__marketplace/customers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ product_code: 'concurrentproduct00000001', concurrent_agreements: true }),
    });
    expect(response.status).toBe(201);
    const buyer = (await response.json()) as Record<string, string>;
    expect(Object.keys(buyer)).toEqual(
      expect.arrayContaining(['registration_token', 'customer_aws_account_id', 'license_arn']),
    );
    const out = await h.client.send(
      new ResolveCustomerCommand({ RegistrationToken: buyer.registration_token }),
    );
    expect(out.CustomerIdentifier ?? '').toBe('');
    expect(out.ProductCode).toBe('concurrentproduct00000001');
    expect(out.CustomerAWSAccountId).toBe(buyer.customer_aws_account_id);
  });

  it('refuses an unknown token with InvalidTokenException (400)', async () => {
    const error = await h.client
      .send(new ResolveCustomerCommand({ RegistrationToken: 'not-a-token' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidTokenException);
    expect((error as InvalidTokenException).$metadata.httpStatusCode).toBe(400);
  });

  it('expires tokens an hour after minting, on the shared clock', async () => {
    setClock(new Date('2026-03-10T12:00:00Z'));
    const buyer = h.emulator.control.mintCustomer();
    advanceClock(59 * 60_000);
    await expect(
      h.client.send(new ResolveCustomerCommand({ RegistrationToken: buyer.registration_token })),
    ).resolves.toMatchObject({ CustomerAWSAccountId: buyer.customer_aws_account_id });
    advanceClock(60_000);
    await expect(
      h.client.send(new ResolveCustomerCommand({ RegistrationToken: buyer.registration_token })),
    ).rejects.toBeInstanceOf(ExpiredTokenException);
  });
});
