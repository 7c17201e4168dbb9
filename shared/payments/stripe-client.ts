// The Stripe client and webhook secret, created once per process. Locally they come from the environment
// (the emulator, or a Stripe test-mode key); in the cloud from one AWS Secrets Manager secret
// (STRIPE_SECRET_ARN, JSON `{"secret_key": "sk_...", "webhook_secret": "whsec_..."}`), re-read every few
// minutes so a rotated key is picked up without a deploy.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import Stripe from 'stripe';
import { awsCalls, awsClientConfig, stripeCalls } from '#infra/definitions/timeouts.ts';
import { MissingConfigurationError, optional } from '../config.ts';

type StripeSecrets = { secretKey: string; webhookSecret: string };

const SECRET_CACHE_MS = 5 * 60_000;
let cached: { secrets: StripeSecrets; client: Stripe; readAt: number } | undefined;
let secretsManager: SecretsManagerClient | undefined;

async function readSecrets(): Promise<StripeSecrets> {
  const secretKey = optional('STRIPE_SECRET_KEY');
  if (secretKey) {
    const webhookSecret = optional('STRIPE_WEBHOOK_SECRET');
    if (!webhookSecret) throw new MissingConfigurationError('STRIPE_WEBHOOK_SECRET is not set');
    return { secretKey, webhookSecret };
  }
  const arn = optional('STRIPE_SECRET_ARN');
  if (!arn) throw new MissingConfigurationError('neither STRIPE_SECRET_KEY nor STRIPE_SECRET_ARN is set');
  secretsManager ??= new SecretsManagerClient(awsClientConfig(awsCalls.secretsManager));
  const result = await secretsManager.send(new GetSecretValueCommand({ SecretId: arn }));
  const parsed = JSON.parse(result.SecretString ?? '{}') as { secret_key?: string; webhook_secret?: string };
  if (!parsed.secret_key || !parsed.webhook_secret) {
    throw new MissingConfigurationError('the Stripe secret needs "secret_key" and "webhook_secret"');
  }
  return { secretKey: parsed.secret_key, webhookSecret: parsed.webhook_secret };
}

function clientFor(secretKey: string): Stripe {
  const host = optional('STRIPE_API_HOST');
  const port = optional('STRIPE_API_PORT');
  const protocol = optional('STRIPE_API_PROTOCOL');
  return new Stripe(secretKey, {
    maxNetworkRetries: stripeCalls.maxNetworkRetries,
    timeout: stripeCalls.timeoutMs,
    telemetry: false,
    ...(host ? { host } : {}),
    ...(port ? { port: Number(port) } : {}),
    ...(protocol === 'http' || protocol === 'https' ? { protocol } : {}),
  });
}

async function current() {
  if (!cached || Date.now() - cached.readAt > SECRET_CACHE_MS) {
    const secrets = await readSecrets();
    const client =
      cached?.secrets.secretKey === secrets.secretKey ? cached.client : clientFor(secrets.secretKey);
    cached = { secrets, client, readAt: Date.now() };
  }
  return cached;
}

export async function stripe(): Promise<Stripe> {
  return (await current()).client;
}

export async function webhookSecret(): Promise<string> {
  return (await current()).secrets.webhookSecret;
}

/** Tests only: forget the cached client after changing the environment. */
export function resetStripeClient(): void {
  cached = undefined;
}
