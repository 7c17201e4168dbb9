// GET /v1/usage: cost and requests per day, week, month or year, optionally for one feature or token, from
// the usage rollups (seconds behind the ledger: shared/usage/rollups.ts).
import * as z from 'zod/mini';
import { nowIso } from '#shared/clock.ts';
import { ValidationError } from '#shared/errors.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { callerOf } from '#shared/http/middleware.ts';
import { identifier, zodProblems } from '#shared/http/validation.ts';
import { queryUsage } from '#shared/usage/query.ts';

const DAY_MS = 86_400_000;
const MAX_DAYS = { day: 366, week: 3 * 366, month: 10 * 366, year: 10 * 366 } as const;

export const calendarDate = z.string().check(
  z.regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD'),
  z.refine((value) => {
    const day = new Date(`${value}T00:00:00Z`);
    return !Number.isNaN(day.getTime()) && day.toISOString().startsWith(value);
  }, 'is not a calendar date'),
);

export const usageQuery = z.strictObject({
  begin: z.optional(calendarDate),
  end: z.optional(calendarDate),
  step: z._default(z.enum(['day', 'week', 'month', 'year']), 'day'),
  feature: z.optional(identifier),
  token_id: z.optional(identifier),
});

export const handler = apiRoute({ auth: 'api' }, async (event, context) => {
  const parsed = usageQuery.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) throw new ValidationError(zodProblems(parsed.error));
  const { step, feature, token_id } = parsed.data;
  const today = nowIso().slice(0, 10);
  const end = parsed.data.end ?? today;
  const begin =
    parsed.data.begin ?? new Date(Date.parse(`${end}T00:00:00Z`) - 29 * DAY_MS).toISOString().slice(0, 10);
  if (begin > end) throw new ValidationError([{ field: 'begin', problem: 'must not be after end' }]);
  const days = (Date.parse(end) - Date.parse(begin)) / DAY_MS + 1;
  if (days > MAX_DAYS[step]) {
    throw new ValidationError([
      { field: 'end', problem: `range is limited to ${MAX_DAYS[step]} days for step=${step}` },
    ]);
  }
  const usage = await queryUsage({
    accountId: callerOf(context).accountId,
    begin,
    end,
    step,
    ...(feature ? { feature } : {}),
    ...(token_id ? { tokenId: token_id } : {}),
  });
  return json(200, usage);
});
