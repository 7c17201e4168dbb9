// Operator API for AWS Marketplace:
// - GET /admin/marketplace/reconciliation?begin=&end=[&account_id=]: units reported to AWS Marketplace
//   against the ledger, per buyer, to the unit;
// - GET /admin/marketplace/contracts/{id}: a contract buyer's grants, per contract and dimension, with the
//   downgrades (recorded, never taken back) the operator may want to act on.
import * as z from 'zod/mini';
import { requireAccount } from '#shared/accounts/service.ts';
import { ConflictError, ValidationError } from '#shared/errors.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { pathOf } from '#shared/http/middleware.ts';
import { isoTime, usd, zodProblems } from '#shared/http/validation.ts';
import { grantRecords } from '#shared/marketplace/entitlements.ts';
import { reconcileMarketplace } from '#shared/marketplace/reconcile.ts';
import { toWire, ZERO } from '#shared/money.ts';

const instant = z.pipe(
  z
    .string()
    .check(
      z.regex(/^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2})?)?Z)?$/, 'must be YYYY-MM-DD or an ISO UTC time'),
    ),
  z.transform((text) => new Date(text.length === 10 ? `${text}T00:00:00Z` : text)),
);

export const reconciliationQuery = z
  .object({
    begin: instant,
    end: instant,
    account_id: z.optional(z.string().check(z.regex(/^acct_[0-9A-Z]{26}$/, 'is not an account id'))),
  })
  .check(
    z.refine((q) => q.begin < q.end && q.end.getTime() - q.begin.getTime() <= 92 * 86_400_000, {
      message: 'end must be after begin, at most 92 days later',
      path: ['end'],
    }),
  );

export const contractPath = z.object({
  id: z.string().check(z.regex(/^acct_[0-9A-Z]{26}$/, 'is not an account id')),
});

/** One contract line's grants: what was granted, what the entitlement says now, and a downgrade if any. */
const contractGrant = z.object({
  license_arn: z.string(),
  contract_end: z.nullable(isoTime),
  dimension: z.string(),
  usd_per_unit: usd,
  granted_units: z.number(),
  granted: usd,
  entitled_units: z.number(),
  /** The entitlement went below what was granted: nothing was taken back. */
  downgraded_at: z.optional(isoTime),
  downgraded_to: z.optional(z.number()),
  updated_at: isoTime,
});

export const contractSchema = z.object({
  account_id: z.string(),
  entitled: usd,
  granted: usd,
  contract_end: z.nullable(isoTime),
  grants: z.array(contractGrant),
});

export const handler = byRoute({
  'GET /admin/marketplace/reconciliation': apiRoute({ auth: 'admin' }, async (event) => {
    const parsed = reconciliationQuery.safeParse(event.queryStringParameters ?? {});
    if (!parsed.success) throw new ValidationError(zodProblems(parsed.error));
    const { begin, end, account_id: accountId } = parsed.data;
    return json(200, await reconcileMarketplace({ begin, end, ...(accountId ? { accountId } : {}) }));
  }),
  'GET /admin/marketplace/contracts/{id}': apiRoute(
    { auth: 'admin', path: contractPath },
    async (_event, context) => {
      const { id } = pathOf<z.infer<typeof contractPath>>(context);
      const account = await requireAccount(id);
      if (account.billing_mode !== 'marketplace_contract') {
        throw new ConflictError(
          'wrong_billing_mode',
          `This account is billed in "${account.billing_mode}" mode, not through an AWS Marketplace contract`,
        );
      }
      const summary = account.marketplace_contract;
      const answer: z.output<typeof contractSchema> = {
        account_id: id,
        entitled: toWire(summary?.entitled ?? ZERO),
        granted: toWire(summary?.granted ?? ZERO),
        contract_end: summary?.contract_end ?? null,
        grants: (await grantRecords(id)).map((record) => ({
          license_arn: record.license_arn,
          contract_end: record.contract_end,
          dimension: record.dimension,
          usd_per_unit: toWire(record.usd_per_unit),
          granted_units: record.granted_units,
          granted: toWire(record.granted),
          entitled_units: record.entitled_units,
          ...(record.downgraded_at ? { downgraded_at: record.downgraded_at } : {}),
          ...(record.downgraded_to !== undefined ? { downgraded_to: record.downgraded_to } : {}),
          updated_at: record.updated_at,
        })),
      };
      return json(200, answer);
    },
  ),
});
