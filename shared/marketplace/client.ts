// The AWS Marketplace Metering client, created once per process. In local mode and tests it talks to the
// emulator (MARKETPLACE_METERING_ENDPOINT) with dummy credentials; in the cloud to AWS with the role's.
import { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { awsCalls, awsClientConfig } from '#infra/definitions/timeouts.ts';
import { config } from '../config.ts';

let client: MarketplaceMeteringClient | undefined;

export function meteringClient(): MarketplaceMeteringClient {
  if (!client) {
    const endpoint = config.marketplaceMeteringEndpoint;
    // One attempt (awsCalls.marketplaceMetering): the metering job backs off and re-sends UnprocessedRecords itself.
    const budget = awsClientConfig(awsCalls.marketplaceMetering);
    client = new MarketplaceMeteringClient(
      endpoint
        ? {
            ...budget,
            endpoint,
            region: process.env.AWS_REGION ?? 'us-east-1',
            credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          }
        : budget,
    );
  }
  return client;
}

/** The local stack and tests point the client at another emulator. */
export function resetMeteringClient(): void {
  client?.destroy();
  client = undefined;
}
