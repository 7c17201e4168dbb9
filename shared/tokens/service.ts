// Token management for `/v1/tokens`: create (secret shown once), list (never the secret), change (name,
// expiry, spend limit), revoke.
// At most MAX_ACTIVE_TOKENS active tokens per account, enforced by the counter the repository keeps in the
// same transaction as each token (racing creations cannot pass it; see repository.ts).

import * as z from 'zod/mini';
import { newTokenId } from '../accounts/service.ts';
import { auditItem } from '../audit/trail.ts';
import type { Actor } from '../auth/caller.ts';
import { nowIso } from '../clock.ts';
import { config, type RateLimit } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { queryAll } from '../dynamo/query.ts';
import type { TransactItem } from '../dynamo/transact.ts';
import { NotFoundError, TooManyTokensError } from '../errors.ts';
import { isoTime, usd } from '../http/validation.ts';
import { type Micros, max, toWire } from '../money.ts';
import { rollupRange } from '../usage/rollups.ts';
import { forgetRevokedToken, forgetToken } from './authenticate.ts';
import {
  changeToken,
  getAccountToken,
  getLimitItems,
  insertToken,
  listAccountTokens,
  prepareToken,
  revokeToken,
  type Scope,
  startCounting,
  type TokenChanges,
  type TokenRecord,
  type TokenSpendLimit,
} from './repository.ts';
import { LIMIT_RESETS, limitPeriodStart, type TokenLimitItem } from './spend-limit.ts';

export const MAX_ACTIVE_TOKENS = 100;

export type TokenRequest = {
  name: string;
  scopes: Scope[];
  expiresAt?: string;
  spendLimit?: TokenSpendLimit;
  rateLimit?: RateLimit;
};

const scopes = z.array(z.enum(['api', 'billing']));

/** A token's own spend limit on the wire: USD per UTC day, week (from Monday), month, or ever. */
const spendLimitSchema = z.object({ amount: usd, reset: z.enum(LIMIT_RESETS) });

const tokenUsageSchema = z.object({
  period_start: z
    .string()
    .check(z.describe("The UTC day (YYYY-MM-DD) the period began: the limit's period, else the month")),
  spent: usd.check(
    z.describe(
      'Charged with this token in the period (without a limit: from the usage rollups, seconds behind)',
    ),
  ),
  remaining: z.nullable(
    usd.check(
      z.describe('What the token may still spend in the period (open holds count); null without a limit'),
    ),
  ),
});

/** A token's own rate limit, as answered; null: the operator's defaults (RATE_LIMIT_RPS, RATE_LIMIT_BURST). */
const rateLimitView = z.nullable(
  z
    .object({
      rps: z.number().check(z.describe('Requests per second on average')),
      burst: z.int().check(z.describe('Requests at once at most')),
    })
    .check(
      z.describe(
        "The token's own rate limit; null: the operator's defaults. Beyond it: 429 rate_limited with retry-after",
      ),
    ),
);

/** A token as listed: never the secret. */
export const tokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes,
  prefix: z.string().check(z.describe('The first characters of the secret, to recognise it')),
  created_at: isoTime,
  last_used_at: z.nullable(isoTime),
  /** From this instant the token is refused with 401 token_expired; null: it never expires. */
  expires_at: z.nullable(isoTime),
  rate_limit: rateLimitView,
  spend_limit: z.nullable(spendLimitSchema),
  usage: tokenUsageSchema,
});

/** A new token: the secret is shown here once (null when an Idempotency-Key replays the answer). */
export const createdTokenSchema = z.object({
  id: z.string(),
  token: z.nullable(z.string()),
  name: z.string(),
  scopes,
  created_at: isoTime,
  expires_at: z.nullable(isoTime),
  rate_limit: rateLimitView,
  spend_limit: z.nullable(spendLimitSchema),
});

type TokenView = z.output<typeof tokenSchema>;
type TokenUsage = z.output<typeof tokenUsageSchema>;

function wireLimit(limit: TokenSpendLimit | undefined): z.output<typeof spendLimitSchema> | null {
  return limit ? { amount: toWire(limit.amount), reset: limit.reset } : null;
}

function publicView(record: TokenRecord, usage: TokenUsage): TokenView {
  return {
    id: record.token_id,
    name: record.name,
    scopes: record.scopes,
    prefix: record.prefix,
    created_at: record.created_at,
    last_used_at: record.last_used_at ?? null,
    expires_at: record.valid_until ?? null,
    rate_limit: record.rate_limit ?? null,
    spend_limit: wireLimit(record.spend_limit),
    usage,
  };
}

/** A limited token's period, from its limit item: a period not started yet has spent nothing. */
function limitedUsage(limit: TokenSpendLimit, item: TokenLimitItem | undefined, now: string): TokenUsage {
  const periodStart = limitPeriodStart(limit.reset, now);
  const current = item && item.period_start >= periodStart;
  const spent = current ? item.spent : (0 as Micros);
  const committed = current ? item.committed : (0 as Micros);
  return {
    period_start: periodStart,
    spent: toWire(spent),
    remaining: toWire(max((limit.amount - committed) as Micros, 0 as Micros)),
  };
}

/** An unlimited token's month so far, summed from its usage rollups (seconds behind the ledger). */
async function monthUsage(accountId: string, tokenId: string, now: string): Promise<TokenUsage> {
  const month = now.slice(0, 7);
  const range = rollupRange('month', month, month, tokenId);
  const items = await queryAll({
    TableName: config.tableName,
    KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
    ExpressionAttributeValues: {
      ':pk': keys.usagePartition(accountId),
      ':from': range.from,
      ':to': range.to,
    },
  });
  const spent = items.reduce((total, item) => total + Number(item.cost ?? 0), 0) as Micros;
  return { period_start: `${month}-01`, spent: toWire(spent), remaining: null };
}

async function viewsOf(accountId: string, records: TokenRecord[]): Promise<TokenView[]> {
  const now = nowIso();
  const limited = records.filter((record) => record.spend_limit).map((record) => record.token_id);
  const items = limited.length ? await getLimitItems(accountId, limited) : new Map<string, TokenLimitItem>();
  return Promise.all(
    records.map(async (record) =>
      publicView(
        record,
        record.spend_limit
          ? limitedUsage(record.spend_limit, items.get(record.token_id), now)
          : await monthUsage(accountId, record.token_id, now),
      ),
    ),
  );
}

export type IssuedToken = z.output<typeof createdTokenSchema> & { token: string };

/**
 * Creates a token if the account is below its cap (else TooManyTokensError); `guard` is written in the same
 * transaction, and `undefined` is answered when its condition failed (nothing was created).
 */
export async function issueToken(
  accountId: string,
  request: TokenRequest,
  guard?: TransactItem,
  actor?: Actor,
): Promise<IssuedToken | undefined> {
  // Three passes at most: start the counter of an account from before it, then create.
  for (let attempt = 0; attempt < 3; attempt++) {
    const prepared = prepareToken({
      accountId,
      tokenId: newTokenId(),
      name: request.name,
      scopes: [...new Set(request.scopes)],
      at: nowIso(),
      ...(request.expiresAt ? { expiresAt: request.expiresAt } : {}),
      ...(request.rateLimit ? { rateLimit: request.rateLimit } : {}),
      ...(request.spendLimit ? { spendLimit: request.spendLimit } : {}),
    });
    const audit = actor && tokenCreatedAudit(accountId, actor, prepared.record);
    const outcome = await insertToken(prepared, MAX_ACTIVE_TOKENS, guard, audit);
    if (outcome === 'guard_taken') return undefined;
    if (outcome === 'cap_reached') throw new TooManyTokensError(MAX_ACTIVE_TOKENS);
    if (outcome === 'uncounted') {
      if (!(await startCounting(accountId, MAX_ACTIVE_TOKENS)))
        throw new TooManyTokensError(MAX_ACTIVE_TOKENS);
      continue;
    }
    const { record } = prepared;
    return {
      id: record.token_id,
      token: prepared.token,
      name: record.name,
      scopes: record.scopes,
      created_at: record.created_at,
      expires_at: record.valid_until ?? null,
      spend_limit: wireLimit(record.spend_limit),
      rate_limit: record.rate_limit ?? null,
    };
  }
  throw new Error('token creation kept finding no counter');
}

/** What the audit trail says of a new token: everything but its secret (and its hash). */
function tokenCreatedAudit(accountId: string, actor: Actor, record: TokenRecord): TransactItem {
  return auditItem(accountId, actor, 'token.created', {
    target: record.token_id,
    details: {
      name: record.name,
      scopes: record.scopes,
      expires_at: record.valid_until ?? null,
      spend_limit: wireLimit(record.spend_limit),
      rate_limit: record.rate_limit ?? null,
    },
  });
}

/** The fields a change sent, each as it was and as it is now (wire form). */
function tokenChangeDetails(record: TokenRecord, changes: TokenChanges): Record<string, unknown> {
  const changed: Record<string, { from: unknown; to: unknown }> = {};
  if (changes.name !== undefined) changed.name = { from: record.name, to: changes.name };
  if (changes.validUntil !== undefined) {
    changed.expires_at = { from: record.valid_until ?? null, to: changes.validUntil };
  }
  if (changes.spendLimit !== undefined) {
    changed.spend_limit = {
      from: wireLimit(record.spend_limit),
      to: wireLimit(changes.spendLimit ?? undefined),
    };
  }
  if (changes.rateLimit !== undefined) {
    changed.rate_limit = { from: record.rate_limit ?? null, to: changes.rateLimit };
  }
  return { name: record.name, changed };
}

/** `POST /v1/tokens`; `actor` (who asked) is recorded in the audit trail, with the token. */
export async function createToken(
  accountId: string,
  request: TokenRequest,
  actor?: Actor,
): Promise<IssuedToken> {
  const issued = await issueToken(accountId, request, undefined, actor);
  if (!issued) throw new Error('a token without a guard cannot lose one');
  return issued;
}

export async function listTokens(accountId: string): Promise<TokenView[]> {
  const records = await listAccountTokens(accountId);
  return viewsOf(
    accountId,
    records.filter((t) => !t.revoked_at),
  );
}

/**
 * `PATCH /v1/tokens/{id}`: changes an active token of this account (another account's token id is "not
 * found"). This instance applies the change at once; others within TOKEN_CACHE_TTL_MS (a limit's amount
 * applies everywhere at once: it is the limit item's, which every charge of the token writes).
 */
export async function changeAccountToken(
  accountId: string,
  tokenId: string,
  changes: TokenChanges,
  actor?: Actor,
): Promise<TokenView> {
  const record = await getAccountToken(accountId, tokenId);
  if (!record || record.revoked_at) throw new NotFoundError('Token not found');
  const audit =
    actor &&
    auditItem(accountId, actor, 'token.changed', {
      target: tokenId,
      details: tokenChangeDetails(record, changes),
    });
  const changed = await changeToken(record, changes, nowIso(), audit);
  if (!changed) throw new NotFoundError('Token not found');
  forgetToken(tokenId);
  const [view] = await viewsOf(accountId, [changed]);
  return view!;
}

/** Revokes a token of this account; another account's token id is "not found", never "forbidden". */
export async function revokeAccountToken(accountId: string, tokenId: string, actor?: Actor): Promise<void> {
  const record = await getAccountToken(accountId, tokenId);
  if (!record || record.revoked_at) throw new NotFoundError('Token not found');
  const audit =
    actor &&
    auditItem(accountId, actor, 'token.revoked', {
      target: tokenId,
      details: { name: record.name, scopes: record.scopes },
    });
  // A racing revocation of the same token won: this one freed nothing and answers as if it came second.
  if (!(await revokeToken(record, nowIso(), audit))) throw new NotFoundError('Token not found');
  forgetRevokedToken(tokenId);
}
