// Usage aggregates: one item per account and UTC day, kept current inside each charging transaction, so
// `GET /v1/usage` reads at most one item per day of the range and never scans.

import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import type { TransactItem } from '../dynamo/transact.ts';
import type { UsageTag } from '../ledger/types.ts';
import type { Micros } from '../money.ts';

/** Attribute names inside a usage day item. Feature and token ids are restricted to [A-Za-z0-9_-]. */
export const usageAttr = {
  cost: 'cost',
  requests: 'requests',
  featureCost: (feature: string) => `f:${feature}:cost`,
  featureRequests: (feature: string) => `f:${feature}:requests`,
  tokenCost: (tokenId: string) => `t:${tokenId}:cost`,
  tokenRequests: (tokenId: string) => `t:${tokenId}:requests`,
  tokenFeatureCost: (tokenId: string, feature: string) => `tf:${tokenId}:${feature}:cost`,
  tokenFeatureRequests: (tokenId: string, feature: string) => `tf:${tokenId}:${feature}:requests`,
};

export function usageDayOf(atIso: string): string {
  return atIso.slice(0, 10);
}

/** `requests`: 1 for a charge, -1 for its reversal (with the cost negated), so a reversed call nets to zero. */
export function usageUpdate(
  accountId: string,
  tag: UsageTag,
  cost: Micros,
  atIso: string,
  requests: 1 | -1 = 1,
): TransactItem {
  const names: Record<string, string> = {
    '#cost': usageAttr.cost,
    '#requests': usageAttr.requests,
    '#fc': usageAttr.featureCost(tag.feature),
    '#fr': usageAttr.featureRequests(tag.feature),
  };
  const adds = ['#cost :cost', '#requests :one', '#fc :cost', '#fr :one'];
  if (tag.tokenId) {
    names['#tc'] = usageAttr.tokenCost(tag.tokenId);
    names['#tr'] = usageAttr.tokenRequests(tag.tokenId);
    names['#tfc'] = usageAttr.tokenFeatureCost(tag.tokenId, tag.feature);
    names['#tfr'] = usageAttr.tokenFeatureRequests(tag.tokenId, tag.feature);
    adds.push('#tc :cost', '#tr :one', '#tfc :cost', '#tfr :one');
  }
  const day = usageDayOf(atIso);
  return {
    Update: {
      TableName: config.tableName,
      Key: keys.usageDay(accountId, day),
      UpdateExpression: `SET kind = :kind, #day = :day ADD ${adds.join(', ')}`,
      ExpressionAttributeNames: { ...names, '#day': 'day' },
      ExpressionAttributeValues: { ':cost': cost, ':one': requests, ':kind': 'usage_day', ':day': day },
    },
  };
}
