// What this instance knows of its tokens' spend-limit items: the period each was last seen holding (so a
// charge names the right period variant the first time, and one refused for a period learns it), and the
// tokens whose limit was found removed (charged without the item until the token is read again).

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { BoundedMap } from '../bounded-map.ts';
import { nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { TokenLimitReachedError } from '../errors.ts';
import { billingEvent, updateWithEvents } from '../events/outbox.ts';
import { metrics } from '../observability/powertools.ts';
import { forgetToken } from './authenticate.ts';
import { type LimitReset, limitTerms, type TokenLimitTerms } from './spend-limit.ts';

type Seen = { held?: string; removedAt?: number; reachedPeriod?: string };

const seen = new BoundedMap<string, Seen>(10_000);

function remember(tokenId: string, entry: Seen): void {
  seen.set(tokenId, entry);
}

/** The limit terms of a charge at `atIso` by a token with a limit reset per `reset`; none without a limit. */
export function tokenLimitAt(
  tokenId: string | undefined,
  reset: LimitReset | undefined,
  atIso: string,
): TokenLimitTerms | undefined {
  if (!tokenId || !reset) return undefined;
  const known = seen.get(tokenId);
  if (known?.removedAt !== undefined && nowMs() - known.removedAt < config.tokenCacheTtlMs) return undefined;
  return limitTerms(tokenId, reset, atIso, known?.held);
}

/** The token's limit item holds `periodStart` (a committed charge, or a refusal that named it). */
export function learnLimitPeriod(tokenId: string, periodStart: string): void {
  const known = seen.get(tokenId);
  remember(tokenId, { ...known, held: periodStart, removedAt: undefined });
}

/** The token's limit item is gone (its limit was removed): charge without it; read the token again. */
export function learnLimitRemoved(tokenId: string): void {
  remember(tokenId, { removedAt: nowMs() });
  forgetToken(tokenId);
}

/**
 * The token's limit refused the call: 402 `token_limit_reached`, and `credits.token_limit.reached` once per
 * period (recorded on the limit item with the event; this instance skips the write once it knows).
 */
export async function refuseForTokenLimit(accountId: string, terms: TokenLimitTerms): Promise<never> {
  metrics.addMetric('TokenLimitReached', MetricUnit.Count, 1);
  const known = seen.get(terms.tokenId);
  if (known?.reachedPeriod !== terms.periodStart) {
    await updateWithEvents(
      {
        Key: keys.tokenLimit(accountId, terms.tokenId),
        UpdateExpression: 'SET reached_period = :p',
        ConditionExpression:
          'attribute_exists(PK) AND period_start = :p AND (attribute_not_exists(reached_period) OR reached_period < :p)',
        ExpressionAttributeValues: { ':p': terms.periodStart },
      },
      [
        billingEvent('credits.token_limit.reached', accountId, {
          token_id: terms.tokenId,
          period_start: terms.periodStart,
        }),
      ],
    );
    remember(terms.tokenId, { ...known, reachedPeriod: terms.periodStart });
  }
  throw new TokenLimitReachedError();
}

/** Tests only: forget everything learnt. */
export function clearLimitView(): void {
  seen.clear();
}
