// Marketplace emulator harness: the emulator on a free port and the real Metering SDK client pointed at it.
import { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import {
  type LifecycleEvent,
  type MarketplaceEmulator,
  startMarketplaceEmulator,
} from '../../local/marketplace/emulator.ts';

export type Harness = {
  emulator: MarketplaceEmulator;
  /** No retries: every answer surfaces as it is. */
  client: MarketplaceMeteringClient;
  events: LifecycleEvent[];
  stop(): Promise<void>;
};

export async function startHarness(): Promise<Harness> {
  const events: LifecycleEvent[] = [];
  const emulator = await startMarketplaceEmulator({ onLifecycleEvent: (event) => events.push(event) });
  const client = new MarketplaceMeteringClient({ ...emulator.clientConfig, maxAttempts: 1 });
  return {
    emulator,
    client,
    events,
    async stop() {
      client.destroy();
      await emulator.stop();
    },
  };
}

/** The start of the UTC hour `hoursAgo` hours before `at`. */
export function hourStart(at: Date, hoursAgo = 0): Date {
  const ms = at.getTime() - hoursAgo * 3_600_000;
  return new Date(ms - (ms % 3_600_000));
}
