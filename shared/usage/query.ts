// `GET /v1/usage`: sums the daily usage items of a date range into day, week, month or year buckets.
// One bounded Query (one item per day of the range), never a scan.

import * as z from 'zod/mini';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { queryPages } from '../dynamo/query.ts';
import { usd } from '../http/validation.ts';
import { type Micros, toWire } from '../money.ts';
import { usageAttr } from './aggregates.ts';

export type Step = 'day' | 'week' | 'month' | 'year';

export type UsageQuery = {
  accountId: string;
  begin: string; // YYYY-MM-DD, inclusive
  end: string; // YYYY-MM-DD, inclusive
  step: Step;
  feature?: string;
  tokenId?: string;
};

export const usageSchema = z.object({
  step: z.enum(['day', 'week', 'month', 'year']),
  data: z.array(
    z.object({
      period_start: z.string().check(z.describe('YYYY-MM-DD; weeks start on Monday')),
      cost: usd,
      requests: z.number().check(z.int()),
      by_feature: z.record(z.string(), usd),
    }),
  ),
});

const DAY_MS = 86_400_000;

/** The first day of the bucket that contains `day`; weeks start on Monday (ISO 8601). */
export function periodStart(day: string, step: Step): string {
  switch (step) {
    case 'day':
      return day;
    case 'week': {
      const date = new Date(`${day}T00:00:00Z`);
      const sinceMonday = (date.getUTCDay() + 6) % 7;
      return new Date(date.getTime() - sinceMonday * DAY_MS).toISOString().slice(0, 10);
    }
    case 'month':
      return `${day.slice(0, 7)}-01`;
    case 'year':
      return `${day.slice(0, 4)}-01-01`;
  }
}

function bucketStarts(begin: string, end: string, step: Step): string[] {
  const starts: string[] = [];
  for (let t = Date.parse(`${begin}T00:00:00Z`); t <= Date.parse(`${end}T00:00:00Z`); t += DAY_MS) {
    const start = periodStart(new Date(t).toISOString().slice(0, 10), step);
    if (starts.at(-1) !== start) starts.push(start);
  }
  return starts;
}

function numberAt(item: Record<string, unknown>, name: string): number {
  const value = item[name];
  return typeof value === 'number' ? value : 0;
}

/** Reads one day item's cost, requests and per-feature costs under the query's filters. */
function dayFigures(item: Record<string, unknown>, query: UsageQuery) {
  const byFeature: Record<string, Micros> = {};
  const featurePattern = query.tokenId ? `tf:${query.tokenId}:` : 'f:';
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith(featurePattern) || !name.endsWith(':cost') || typeof value !== 'number') continue;
    const feature = name.slice(featurePattern.length, -':cost'.length);
    if (query.feature && feature !== query.feature) continue;
    byFeature[feature] = value as Micros;
  }
  let cost: number;
  let requests: number;
  if (query.tokenId && query.feature) {
    cost = numberAt(item, usageAttr.tokenFeatureCost(query.tokenId, query.feature));
    requests = numberAt(item, usageAttr.tokenFeatureRequests(query.tokenId, query.feature));
  } else if (query.tokenId) {
    cost = numberAt(item, usageAttr.tokenCost(query.tokenId));
    requests = numberAt(item, usageAttr.tokenRequests(query.tokenId));
  } else if (query.feature) {
    cost = numberAt(item, usageAttr.featureCost(query.feature));
    requests = numberAt(item, usageAttr.featureRequests(query.feature));
  } else {
    cost = numberAt(item, usageAttr.cost);
    requests = numberAt(item, usageAttr.requests);
  }
  return { cost, requests, byFeature };
}

export async function queryUsage(query: UsageQuery): Promise<z.output<typeof usageSchema>> {
  const totals = new Map<string, { cost: number; requests: number; byFeature: Map<string, number> }>();
  for (const start of bucketStarts(query.begin, query.end, query.step)) {
    totals.set(start, { cost: 0, requests: 0, byFeature: new Map() });
  }
  const pk = keys.account(query.accountId).PK;
  for await (const page of queryPages({
    TableName: config.tableName,
    KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
    ExpressionAttributeValues: {
      ':pk': pk,
      ':from': keys.usageDay(query.accountId, query.begin).SK,
      ':to': keys.usageDay(query.accountId, query.end).SK,
    },
  })) {
    for (const item of page) {
      const bucket = totals.get(periodStart(String(item.day), query.step));
      if (!bucket) continue;
      const figures = dayFigures(item, query);
      bucket.cost += figures.cost;
      bucket.requests += figures.requests;
      for (const [feature, cost] of Object.entries(figures.byFeature)) {
        bucket.byFeature.set(feature, (bucket.byFeature.get(feature) ?? 0) + cost);
      }
    }
  }
  return {
    step: query.step,
    data: [...totals].map(([start, bucket]) => ({
      period_start: start,
      cost: toWire(bucket.cost as Micros),
      requests: bucket.requests,
      by_feature: Object.fromEntries([...bucket.byFeature].map(([f, c]) => [f, toWire(c as Micros)])),
    })),
  };
}
