// `GET /v1/usage`: sums the usage rollups of a date range (shared/usage/rollups.ts) into day, week, month
// or year buckets: bounded Queries (month items for whole months, day items otherwise), never a scan. The
// rollups follow the ledger through the table's stream, so an answer may miss the last seconds of calls.

import * as z from 'zod/mini';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { queryPages } from '../dynamo/query.ts';
import { usd } from '../http/validation.ts';
import { type Micros, toWire } from '../money.ts';
import { type Grain, rollupRange } from './rollups.ts';

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

/** The first and last day of `month` (YYYY-MM). */
function monthDays(month: string): { first: string; last: string } {
  const [year, m] = month.split('-').map(Number) as [number, number];
  return { first: `${month}-01`, last: new Date(Date.UTC(year, m, 0)).toISOString().slice(0, 10) };
}

type Segment = { grain: Grain; from: string; to: string };

/**
 * Which rollups cover [begin, end]: for month and year steps the month items of every month the range
 * covers whole, and day items for a month it covers in part (at most its first and its last); for day and
 * week steps the day items. So ten years of months read about 120 items per feature, not 3,650.
 */
export function rollupSegments(begin: string, end: string, step: Step): Segment[] {
  if (step === 'day' || step === 'week') return [{ grain: 'day', from: begin, to: end }];
  const segments: Segment[] = [];
  const firstMonth = begin.slice(0, 7);
  const lastMonth = end.slice(0, 7);
  const wholeFrom = begin === monthDays(firstMonth).first ? firstMonth : nextMonth(firstMonth);
  const wholeTo = end === monthDays(lastMonth).last ? lastMonth : previousMonth(lastMonth);
  if (wholeFrom > wholeTo) return [{ grain: 'day', from: begin, to: end }];
  if (wholeFrom !== firstMonth) segments.push({ grain: 'day', from: begin, to: monthDays(firstMonth).last });
  segments.push({ grain: 'month', from: wholeFrom, to: wholeTo });
  if (wholeTo !== lastMonth) segments.push({ grain: 'day', from: monthDays(lastMonth).first, to: end });
  return segments;
}

function nextMonth(month: string): string {
  return new Date(Date.parse(`${monthDays(month).last}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 7);
}

function previousMonth(month: string): string {
  return new Date(Date.parse(`${month}-01T00:00:00Z`) - DAY_MS).toISOString().slice(0, 7);
}

/** One bounded Query per segment, over the rollups of the account (or of one token), every feature or one. */
async function* rollupItems(query: UsageQuery, segment: Segment) {
  const range = rollupRange(segment.grain, segment.from, segment.to, query.tokenId);
  yield* queryPages({
    TableName: config.tableName,
    KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
    ...(query.feature ? { FilterExpression: '#feature = :feature' } : {}),
    ExpressionAttributeValues: {
      ':pk': keys.usagePartition(query.accountId),
      ':from': range.from,
      ':to': range.to,
      ...(query.feature ? { ':feature': query.feature } : {}),
    },
    ProjectionExpression: '#period, #feature, #cost, #requests',
    ExpressionAttributeNames: {
      '#period': 'period',
      '#feature': 'feature',
      '#cost': 'cost',
      '#requests': 'requests',
    },
  });
}

export async function queryUsage(query: UsageQuery): Promise<z.output<typeof usageSchema>> {
  const totals = new Map<string, { cost: number; requests: number; byFeature: Map<string, number> }>();
  for (const start of bucketStarts(query.begin, query.end, query.step)) {
    totals.set(start, { cost: 0, requests: 0, byFeature: new Map() });
  }
  for (const segment of rollupSegments(query.begin, query.end, query.step)) {
    for await (const page of rollupItems(query, segment)) {
      for (const item of page) {
        // A month item counts in the bucket of its first day: month and year buckets hold whole months.
        const period = String(item.period);
        const bucket = totals.get(periodStart(period.length === 7 ? `${period}-01` : period, query.step));
        if (!bucket) continue;
        const cost = Number(item.cost ?? 0);
        bucket.cost += cost;
        bucket.requests += Number(item.requests ?? 0);
        const feature = String(item.feature);
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
