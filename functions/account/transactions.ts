// GET /v1/transactions: the ledger entries that changed the balance, newest first, cursor-paginated;
// optionally narrowed by entry type, feature and date range (shared/ledger/history.ts).
import * as z from 'zod/mini';
import { ValidationError } from '#shared/errors.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { callerOf } from '#shared/http/middleware.ts';
import { identifier, zodProblems } from '#shared/http/validation.ts';
import { ENTRY_TYPES, listTransactions } from '#shared/ledger/history.ts';
import { calendarDate } from './usage.ts';

/** A comma-separated list of entry types, e.g. `purchase,auto_refill`. */
const typeList = z
  .string()
  .check(
    z.regex(
      new RegExp(`^(${ENTRY_TYPES.join('|')})(,(${ENTRY_TYPES.join('|')}))*$`),
      `must be a comma-separated list of ${ENTRY_TYPES.join(', ')}`,
    ),
    z.describe(`Comma-separated entry types: ${ENTRY_TYPES.join(', ')}`),
  );

export const transactionsQuery = z.strictObject({
  limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(100)), 25),
  cursor: z.optional(z.string().check(z.maxLength(512))),
  /** Only these entry types. */
  type: z.optional(typeList),
  /** All but these entry types. */
  exclude_type: z.optional(typeList),
  /** Only entries of this feature (usage and reversals). */
  feature: z.optional(identifier),
  /** From this day (UTC, inclusive). */
  begin: z.optional(calendarDate),
  /** To this day (UTC, inclusive). */
  end: z.optional(calendarDate),
});

type EntryTypeName = (typeof ENTRY_TYPES)[number];
const types = (text: string | undefined) => (text ? (text.split(',') as EntryTypeName[]) : undefined);

export const handler = apiRoute({ auth: 'api' }, async (event, context) => {
  const parsed = transactionsQuery.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) throw new ValidationError(zodProblems(parsed.error));
  const { limit, cursor, feature, begin, end } = parsed.data;
  if (begin && end && begin > end) {
    throw new ValidationError([{ field: 'begin', problem: 'must not be after end' }]);
  }
  const include = types(parsed.data.type);
  const exclude = types(parsed.data.exclude_type);
  const page = await listTransactions(callerOf(context).accountId, limit, cursor, {
    ...(include ? { types: include } : {}),
    ...(exclude ? { excludeTypes: exclude } : {}),
    ...(feature ? { feature } : {}),
    ...(begin ? { begin } : {}),
    ...(end ? { end } : {}),
  });
  return json(200, page);
});
