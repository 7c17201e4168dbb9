// The AWS Marketplace Metering client, created once per process. In local mode and tests it talks to the
// emulator (MARKETPLACE_METERING_ENDPOINT) with dummy credentials; in the cloud to AWS with the role's.
import { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { config } from '../config.ts';

let client: MarketplaceMeteringClient | undefined;

export function meteringClient(): MarketplaceMeteringClient {
  if (!client) {
    const endpoint = config.marketplaceMeteringEndpoint;
    // Retries are the metering job's own (it backs off and re-sends UnprocessedRecords itself).
    client = new MarketplaceMeteringClient(
      endpoint
        ? {
            endpoint,
            region: process.env.AWS_REGION ?? 'us-east-1',
            credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
            maxAttempts: 1,
          }
        : { maxAttempts: 1 },
    );
  }
  return client;
}

/** The local stack and tests point the client at another emulator. */
export function resetMeteringClient(): void {
  client?.destroy();
  client = undefined;
}
