// Marketplace fixtures: an emulator the metering client talks to, buyers registered through the real
// registration, and hour records written with the rollup consumer's own update (the contract).

import { randomUUID } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { resetClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { resetMeteringClient } from '#shared/marketplace/client.ts';
import { resetEntitlementClient } from '#shared/marketplace/entitlements.ts';
import { hourRollupUpdate } from '#shared/marketplace/hour-store.ts';
import { registerBuyer } from '#shared/marketplace/registration.ts';
import { createTable } from '../../local/dynamo-local.ts';
import {
  type LifecycleEvent,
  type MarketplaceEmulator,
  type MintOptions,
  type StoredRecord,
  startMarketplaceEmulator,
} from '../../local/marketplace/emulator.ts';
import { fundedAccount } from './accounts.ts';

/**
 * A table of its own for each test: the metering job reads every pending hour of its table, so other test
 * files' buyers (in the shared test table) must not be in it.
 */
export async function useFreshTable(): Promise<string> {
  const name = `mkt-${randomUUID().slice(0, 12)}`;
  await createTable(process.env.DYNAMODB_ENDPOINT!, name);
  process.env.TABLE_NAME = name;
  resetClock();
  return name;
}

export async function startTestEmulator(
  onLifecycleEvent?: (event: LifecycleEvent) => void,
): Promise<MarketplaceEmulator> {
  const emulator = await startMarketplaceEmulator(onLifecycleEvent ? { onLifecycleEvent } : {});
  process.env.MARKETPLACE_METERING_ENDPOINT = emulator.endpoint;
  resetMeteringClient();
  resetEntitlementClient();
  return emulator;
}

export async function stopTestEmulator(emulator: MarketplaceEmulator | undefined): Promise<void> {
  await emulator?.stop();
  delete process.env.MARKETPLACE_METERING_ENDPOINT;
  resetMeteringClient();
  resetEntitlementClient();
}

/** A buyer minted by the emulator and registered through the real registration. */
export async function registeredBuyer(emulator: MarketplaceEmulator, mint: MintOptions = {}) {
  const customer = emulator.control.mintCustomer(mint);
  const registration = await registerBuyer(customer.registration_token);
  const { token } = registration;
  if (token === null) throw new Error('a freshly minted registration token was taken for a replay');
  return { ...registration, token, accountId: registration.account_id, customer };
}

/**
 * An account made a marketplace buyer with `subscription_status` as the lifecycle handler stores it, without
 * the emulator: for tests of charging, not of registration.
 */
export async function marketplaceAccount(subscriptionStatus: string) {
  const { accountId, token } = await fundedAccount(0, 'Marketplace buyer');
  await ddb().send(
    new UpdateCommand({
      TableName: process.env.TABLE_NAME,
      Key: keys.account(accountId),
      UpdateExpression: 'SET billing_mode = :mode, subscription_status = :status',
      ExpressionAttributeValues: { ':mode': 'marketplace', ':status': subscriptionStatus },
    }),
  );
  return { accountId, token };
}

/** Usage of `cost` micro-USD at `hour`: the very update the rollup consumer makes for one entry. */
export async function accrue(accountId: string, hour: string, cost: number, dimension = 'usage') {
  const { Update } = hourRollupUpdate(accountId, hour, dimension, { cost, requests: 1, entries: 1 });
  await ddb().send(new UpdateCommand(Update!));
}

/** What AWS billed: the accepted records, each once (an identical replay is not billed again). */
export function billed(emulator: MarketplaceEmulator, customerAwsAccountId?: string): StoredRecord[] {
  return emulator.control
    .records()
    .filter(
      (r) =>
        r.status === 'Success' &&
        !r.replayed &&
        (customerAwsAccountId === undefined || r.customer_aws_account_id === customerAwsAccountId),
    );
}

export function billedUnits(emulator: MarketplaceEmulator, customerAwsAccountId?: string): number {
  return billed(emulator, customerAwsAccountId).reduce((sum, r) => sum + (r.usage_record.Quantity ?? 0), 0);
}
