// Configuration read from the environment once, failing fast with a named error when something is missing.

export class MissingConfigurationError extends Error {
  override readonly name = 'MissingConfigurationError';
}

export function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new MissingConfigurationError(`environment variable ${name} is not set`);
  }
  return value;
}

export function optional(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function optionalNumber(name: string, fallback: number): number {
  const value = optional(name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed))
    throw new MissingConfigurationError(`environment variable ${name} is not a number`);
  return parsed;
}

export const config = {
  get tableName(): string {
    return required('TABLE_NAME');
  },
  get eventBusName(): string | undefined {
    return optional('EVENT_BUS_NAME');
  },
  /** Local mode only: the DynamoDB Local endpoint. */
  get dynamoEndpoint(): string | undefined {
    return optional('DYNAMODB_ENDPOINT');
  },
  /** Local mode only: `/admin` is authorised by this key instead of IAM. */
  get adminApiKey(): string | undefined {
    return optional('ADMIN_API_KEY');
  },
  get localMode(): boolean {
    return optional('LOCAL_MODE') === 'true';
  },
  /** How long an instance trusts a cached token before re-reading it (revocation reaches it within this). */
  get tokenCacheTtlMs(): number {
    return optionalNumber('TOKEN_CACHE_TTL_MS', 30_000);
  },
  /** How long an unsettled hold lives before the expiry job releases it. */
  get holdTtlMs(): number {
    return optionalNumber('HOLD_TTL_MS', 5 * 60_000);
  },
};
