// Rate limits of the /auth routes that send email: fixed windows counted in DynamoDB (keys.authRate), one
// counter per address and one per client IP, so a limit holds across every Lambda instance (the token rate
// limiter's buckets are per instance). One UpdateItem per subject per request; counters expire by TTL.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { RateLimitedError } from '../errors.ts';
import { emailHashOf } from './memberships.ts';

export type WindowLimit = { limit: number; windowMs: number };

/** Per address: 5 links per 15 minutes. Per client IP: 30 requests per 15 minutes (offices share an IP). */
export const AUTH_EMAIL_LIMITS = {
  perAddress: { limit: 5, windowMs: 15 * 60_000 },
  perClient: { limit: 30, windowMs: 15 * 60_000 },
} as const satisfies Record<string, WindowLimit>;

/** Counts one request of `subject` in the current window; answers the seconds to wait when over the limit. */
async function countRequest(subject: string, rule: WindowLimit): Promise<number | undefined> {
  const at = nowMs();
  const windowStart = Math.floor(at / rule.windowMs) * rule.windowMs;
  const windowEnd = windowStart + rule.windowMs;
  const result = await ddb().send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: keys.authRate(subject, new Date(windowStart).toISOString()),
      UpdateExpression: 'ADD hits :one SET kind = :kind, expires_at = :expires',
      ExpressionAttributeValues: {
        ':one': 1,
        ':kind': 'auth_rate',
        ':expires': Math.ceil(windowEnd / 1000) + 3_600,
      },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  const hits = Number(result.Attributes?.hits ?? 1);
  return hits > rule.limit ? Math.max(1, Math.ceil((windowEnd - at) / 1000)) : undefined;
}

/** Throws RateLimitedError (429 + retry-after) when the address or the client is past its limit. */
export async function enforceAuthEmailLimits(email: string, clientIp: string): Promise<void> {
  const waits = await Promise.all([
    countRequest(`EMAIL#${emailHashOf(email)}`, AUTH_EMAIL_LIMITS.perAddress),
    countRequest(`CLIENT#${clientIp}`, AUTH_EMAIL_LIMITS.perClient),
  ]);
  const wait = Math.max(...waits.map((seconds) => seconds ?? 0));
  if (wait > 0) throw new RateLimitedError(wait);
}

/**
 * Runs `work`, then waits until at least `floorMs` of wall-clock time (not the test clock) have passed since
 * it started: the answer to a member (a link written and emailed) and to anyone else (nothing to do) then take
 * the same time, unless the send itself is slower than the floor (then it is logged by its caller's metrics).
 */
export async function answeringNoSoonerThan<T>(floorMs: number, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  const left = floorMs - (performance.now() - started);
  if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  return result;
}
