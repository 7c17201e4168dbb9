// The dashboard's URL, for checkout's return pages. The CreditsDashboard stack depends on the API stack (its
// distribution forwards the API's paths), so the API cannot be given the dashboard's domain at deploy time
// without a cycle: the dashboard stack publishes it in an SSM parameter with a fixed name instead
// (DASHBOARD_URL_PARAMETER), read here at run time and cached. The local stack sets no parameter: the page and
// the API share one origin there, and nothing is read from AWS.
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { awsCalls, awsClientConfig } from '#infra/definitions/timeouts.ts';
import { nowMs } from '../clock.ts';
import { optional } from '../config.ts';
import { logger } from '../observability/powertools.ts';

/** Reads the named parameter's value; `undefined` when it does not exist. Any other failure throws. */
export type DashboardUrlReader = (parameterName: string) => Promise<string | undefined>;

/** A known URL is re-read this often, so a re-created distribution is picked up without a deploy. */
export const DASHBOARD_URL_CACHE_MS = 5 * 60_000;
/**
 * An unknown one sooner: the dashboard stack is deployed after the API stack, and a stalled SSM should not
 * cost every checkout its read budget.
 */
export const DASHBOARD_URL_RETRY_MS = 60_000;

let ssm: SSMClient | undefined;

const readFromSsm: DashboardUrlReader = async (parameterName) => {
  ssm ??= new SSMClient(awsClientConfig(awsCalls.ssm));
  try {
    const result = await ssm.send(new GetParameterCommand({ Name: parameterName }));
    return result.Parameter?.Value;
  } catch (error) {
    if (error instanceof ParameterNotFound) return undefined;
    throw error;
  }
};

let reader: DashboardUrlReader = readFromSsm;
let cached: { url: string | undefined; until: number } | undefined;
/** The fallback is logged when it starts, not on every re-read while it lasts. */
let fallbackLogged = false;

/**
 * The dashboard's origin-bearing URL (`https://d123.cloudfront.net`), or `undefined` when this deployment
 * has none that can be read: no parameter configured (local), the dashboard stack not deployed, SSM
 * unreachable or refusing, or a value that is not an http(s) URL. Never throws: checkout then falls back to
 * PUBLIC_BASE_URL alone.
 */
export async function dashboardUrl(): Promise<string | undefined> {
  const parameterName = optional('DASHBOARD_URL_PARAMETER');
  if (!parameterName) return undefined;
  if (cached && nowMs() < cached.until) return cached.url;
  const url = await readDashboardUrl(parameterName);
  cached = {
    url,
    until: nowMs() + (url === undefined ? DASHBOARD_URL_RETRY_MS : DASHBOARD_URL_CACHE_MS),
  };
  return url;
}

async function readDashboardUrl(parameterName: string): Promise<string | undefined> {
  let value: string | undefined;
  try {
    value = await reader(parameterName);
  } catch (error) {
    fallBack(parameterName, 'could not be read', error);
    return undefined;
  }
  if (value === undefined) {
    fallBack(parameterName, 'does not exist (is the dashboard stack deployed?)');
    return undefined;
  }
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || !['https:', 'http:'].includes(url.protocol)) {
    fallBack(parameterName, `is not an http(s) URL: ${JSON.stringify(value)}`);
    return undefined;
  }
  fallbackLogged = false;
  return url.origin;
}

function fallBack(parameterName: string, why: string, error?: unknown): void {
  if (fallbackLogged) return;
  fallbackLogged = true;
  logger.warn(
    `The dashboard URL parameter ${parameterName} ${why}: return URLs are accepted on PUBLIC_BASE_URL only`,
    ...(error === undefined ? [] : [{ error }]),
  );
}

/** Tests only: read the parameter through `replacement` (the SDK cannot reach AWS there), nothing cached. */
export function useDashboardUrlReader(replacement: DashboardUrlReader | undefined): void {
  reader = replacement ?? readFromSsm;
  cached = undefined;
  fallbackLogged = false;
}
