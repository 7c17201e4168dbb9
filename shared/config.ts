// Configuration read from the environment once, failing fast with a named error when something is missing.
import { fromDecimalString, type Micros } from './money.ts';

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

export const DEFAULT_MARKETPLACE_WINDOW_HOURS = 6;
export const MIN_MARKETPLACE_WINDOW_HOURS = 2;
export const MAX_MARKETPLACE_WINDOW_HOURS = 24;

/** A token bucket's settings: `rps` requests per second on average, at most `burst` at once. */
export type RateLimit = { rps: number; burst: number };

/** The variables that set the rate limits (the CDK stack and the local stack pass them on). */
export type RateLimitVariable =
  | 'RATE_LIMIT_RPS'
  | 'RATE_LIMIT_BURST'
  | 'RATE_LIMIT_ACCOUNT_RPS'
  | 'RATE_LIMIT_ACCOUNT_BURST';

export const DEFAULT_RATE_LIMIT: RateLimit = { rps: 50, burst: 100 };
export const DEFAULT_ACCOUNT_RATE_LIMIT: RateLimit = { rps: 200, burst: 400 };

/** A bucket from two variables: rps a positive number, burst a whole number ≥ 1 (fails fast otherwise). */
function rateLimitFrom(rpsName: string, burstName: string, fallback: RateLimit): RateLimit {
  const rps = optionalNumber(rpsName, fallback.rps);
  const burst = optionalNumber(burstName, fallback.burst);
  if (!(rps > 0)) throw new MissingConfigurationError(`${rpsName} must be a positive number`);
  if (!Number.isInteger(burst) || burst < 1) {
    throw new MissingConfigurationError(`${burstName} must be a whole number ≥ 1`);
  }
  return { rps, burst };
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
  /**
   * Local mode only: write units per second per partition key that DynamoDB Local is held to (the limiter in
   * shared/dynamo/write-limiter.ts); unset, no limit. AWS's own is 1,000.
   */
  get dynamoWriteLimitPerPartition(): number | undefined {
    if (optional('DYNAMO_WRITE_LIMIT_PER_PARTITION') === undefined) return undefined;
    return optionalNumber('DYNAMO_WRITE_LIMIT_PER_PARTITION', 0);
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
  /** Each token's bucket unless the token has its own `rate_limit` (RATE_LIMIT_RPS 50, RATE_LIMIT_BURST 100). */
  get rateLimit(): RateLimit {
    return rateLimitFrom('RATE_LIMIT_RPS', 'RATE_LIMIT_BURST', DEFAULT_RATE_LIMIT);
  },
  /**
   * The ceiling across all tokens of one account (RATE_LIMIT_ACCOUNT_RPS 200, RATE_LIMIT_ACCOUNT_BURST 400),
   * and the most a token's own `rate_limit` may ask for.
   */
  get accountRateLimit(): RateLimit {
    return rateLimitFrom('RATE_LIMIT_ACCOUNT_RPS', 'RATE_LIMIT_ACCOUNT_BURST', DEFAULT_ACCOUNT_RATE_LIMIT);
  },
  /**
   * How instances share what their buckets let through (RATE_LIMIT_SYNC): `table` adds each instance's count
   * to a counter item at most once per second per active token and account; `off` keeps the buckets local,
   * exact when one process serves everything. Default `table` in the cloud, `off` in local mode.
   */
  get rateLimitSync(): 'table' | 'off' {
    const mode = optional('RATE_LIMIT_SYNC') ?? (this.localMode ? 'off' : 'table');
    if (mode !== 'table' && mode !== 'off') {
      throw new MissingConfigurationError('RATE_LIMIT_SYNC must be table or off');
    }
    return mode;
  },
  /** How long an unsettled hold lives before the expiry job releases it. */
  get holdTtlMs(): number {
    return optionalNumber('HOLD_TTL_MS', 5 * 60_000);
  },
  /** The AWS Marketplace dimension that marketplace usage is reported in. */
  get marketplaceDimension(): string {
    return optional('MARKETPLACE_DIMENSION') ?? 'usage';
  },
  /** USD per reported Marketplace unit (MARKETPLACE_UNIT_PRICE, default 0.001), in micro-USD. */
  get marketplaceUnitPriceMicros(): number {
    const text = optional('MARKETPLACE_UNIT_PRICE') ?? '0.001';
    const parsed: number = fromDecimalString(text);
    if (!(parsed > 0)) {
      throw new MissingConfigurationError('MARKETPLACE_UNIT_PRICE must be a positive amount');
    }
    return parsed;
  },
  /**
   * How buyers are identified in usage records: `license` (CustomerAWSAccountId + LicenseArn, no ProductCode:
   * products under Concurrent Agreements) or `product_code` (CustomerIdentifier + MARKETPLACE_PRODUCT_CODE).
   */
  get marketplaceIdentity(): 'license' | 'product_code' {
    const mode =
      optional('MARKETPLACE_IDENTITY') ?? (optional('MARKETPLACE_PRODUCT_CODE') ? 'product_code' : 'license');
    if (mode !== 'license' && mode !== 'product_code') {
      throw new MissingConfigurationError('MARKETPLACE_IDENTITY must be license or product_code');
    }
    return mode;
  },
  /**
   * Hours after a usage record's timestamp (its hour's start) that BatchMeterUsage still accepts it
   * (MARKETPLACE_WINDOW_HOURS, default 6 as the API reference says). At least 2: an hour is sent after it
   * closes, so with 1 no closed hour would ever be inside the window.
   */
  get marketplaceWindowHours(): number {
    const hours = optionalNumber('MARKETPLACE_WINDOW_HOURS', DEFAULT_MARKETPLACE_WINDOW_HOURS);
    if (
      !Number.isInteger(hours) ||
      hours < MIN_MARKETPLACE_WINDOW_HOURS ||
      hours > MAX_MARKETPLACE_WINDOW_HOURS
    ) {
      throw new MissingConfigurationError(
        `MARKETPLACE_WINDOW_HOURS must be a whole number of hours from ${MIN_MARKETPLACE_WINDOW_HOURS} to ${MAX_MARKETPLACE_WINDOW_HOURS}`,
      );
    }
    return hours;
  },
  get marketplaceProductCode(): string | undefined {
    return optional('MARKETPLACE_PRODUCT_CODE');
  },
  /**
   * Whether the AWS Marketplace product is sold as a SaaS contract (MARKETPLACE_PRODUCT_TYPE): `metered` (pay
   * as you go: usage reported hourly), `contract` (buyers are funded from their entitlements), or `auto` (a
   * buyer with entitlements registers as a contract buyer, one without as pay as you go). Default `auto` in
   * local mode, so the emulator's buyers can be either; `metered` in the cloud.
   */
  get marketplaceProductType(): 'metered' | 'contract' | 'auto' {
    const type = optional('MARKETPLACE_PRODUCT_TYPE') ?? (this.localMode ? 'auto' : 'metered');
    if (type !== 'metered' && type !== 'contract' && type !== 'auto') {
      throw new MissingConfigurationError('MARKETPLACE_PRODUCT_TYPE must be metered, contract or auto');
    }
    return type;
  },
  /**
   * The contract's credit dimensions and what one unit of each grants (MARKETPLACE_CREDIT_DIMENSIONS, JSON
   * `{"<dimension>": <USD per unit>}`), in micro-USD. Default `{"credits_100": 100}`.
   */
  get marketplaceCreditDimensions(): ReadonlyMap<string, Micros> {
    const text = optional('MARKETPLACE_CREDIT_DIMENSIONS') ?? '{"credits_100": 100}';
    return creditDimensions(text);
  },
  /** Where a contract buyer buys more (the product's AWS Marketplace page): the dashboard links to it. */
  get marketplaceListingUrl(): string | undefined {
    const url = optional('MARKETPLACE_LISTING_URL');
    if (url !== undefined && !/^https:\/\/\S+$/.test(url)) {
      throw new MissingConfigurationError('MARKETPLACE_LISTING_URL must be an https URL');
    }
    return url;
  },
  /** Local mode and tests only: the emulator's endpoint for the entitlement client (default: the metering one). */
  get marketplaceEntitlementEndpoint(): string | undefined {
    return optional('MARKETPLACE_ENTITLEMENT_ENDPOINT') ?? optional('MARKETPLACE_METERING_ENDPOINT');
  },
  /** Local mode and tests only: the Marketplace emulator's endpoint for the metering client. */
  get marketplaceMeteringEndpoint(): string | undefined {
    return optional('MARKETPLACE_METERING_ENDPOINT');
  },
  /** The metering job computes and reports what it would send, without claiming or sending anything. */
  get marketplaceDryRun(): boolean {
    return optional('MARKETPLACE_METERING_DRY_RUN') === 'true';
  },
  /**
   * Which webhook endpoint URLs are accepted and delivered to (WEBHOOK_TARGETS): `public` (https to public
   * addresses only: private, loopback, link-local and metadata targets are refused, at creation and at each
   * delivery) or `local` (http or https to any address, for the local stack's receivers). Default `public`
   * in the cloud, `local` in local mode; tests set `public` to run the cloud's checks.
   */
  get webhookTargets(): 'public' | 'local' {
    const mode = optional('WEBHOOK_TARGETS') ?? (this.localMode ? 'local' : 'public');
    if (mode !== 'public' && mode !== 'local') {
      throw new MissingConfigurationError('WEBHOOK_TARGETS must be public or local');
    }
    return mode;
  },
  /**
   * The least time (ms, wall clock) `POST /auth/email` and `POST /auth/signup` take to answer, whether or not
   * a link was made and emailed (AUTH_EMAIL_MIN_MS, default 600): a member's answer would otherwise be slower
   * by the SES call, and the timing would tell who is one.
   */
  get authEmailMinMs(): number {
    return optionalNumber('AUTH_EMAIL_MIN_MS', 600);
  },
  /** Self-serve sign-up (`POST /auth/signup`) is on only when SELF_SIGNUP is `true`; off by default. */
  get selfSignup(): boolean {
    return optional('SELF_SIGNUP') === 'true';
  },
  /** Credits (USD, decimal text) granted once per email address to a self-serve sign-up; default 0 (none). */
  get signupCredits(): Micros {
    const text = optional('SIGNUP_CREDITS') ?? '0';
    let parsed: Micros;
    try {
      parsed = fromDecimalString(text);
    } catch {
      throw new MissingConfigurationError('SIGNUP_CREDITS must be an amount of USD, like 5 or 2.50');
    }
    if (parsed < 0) throw new MissingConfigurationError('SIGNUP_CREDITS must not be negative');
    return parsed;
  },
};

/** MARKETPLACE_CREDIT_DIMENSIONS parsed: every dimension named, every amount a positive USD amount. */
export function creditDimensions(text: string): ReadonlyMap<string, Micros> {
  const fail = (why: string) =>
    new MissingConfigurationError(
      `MARKETPLACE_CREDIT_DIMENSIONS must be JSON like {"credits_100": 100} (dimension: USD per unit): ${why}`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fail('it is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fail('not an object');
  const dimensions = new Map<string, Micros>();
  for (const [dimension, usd] of Object.entries(parsed)) {
    if (dimension === '' || dimension.length > 255) throw fail(`the dimension "${dimension}" is not a name`);
    let micros: Micros;
    try {
      micros = fromDecimalString(String(usd));
    } catch {
      throw fail(`${dimension} is not an amount`);
    }
    if (typeof usd !== 'number' || !(micros > 0)) throw fail(`${dimension} must be a positive number of USD`);
    dimensions.set(dimension, micros);
  }
  return dimensions;
}
