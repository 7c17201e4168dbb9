// Account operations: opening an account with its first billing token, operator grants and corrections,
// the billing mode, and the view of an account that the APIs answer with.
import * as z from 'zod/mini';
import { auditItem } from '../audit/trail.ts';
import type { Actor } from '../auth/caller.ts';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { type TransactItem, transactWrite } from '../dynamo/transact.ts';
import { BalanceWouldGoNegativeError, NotFoundError } from '../errors.ts';
import { billingEvent } from '../events/outbox.ts';
import { isoTime, usd } from '../http/validation.ts';
import { newUlid } from '../ids.ts';
import { applyCredit, type Guard } from '../ledger/ledger.ts';
import type { LedgerEntry } from '../ledger/types.ts';
import { type Member, type MemberStatus, normalEmail, prepareMember } from '../members/store.ts';
import { fromWire, type Micros, toWire, ZERO } from '../money.ts';
import { newTokenCounterPut, prepareToken } from '../tokens/repository.ts';
import { postpaidSchema, postpaidView } from './billing-mode.ts';
import { type Account, getAccount, newAccountPut } from './repository.ts';

export function newAccountId(): string {
  return `acct_${newUlid()}`;
}

export function newTokenId(): string {
  return `tok_${newUlid()}`;
}

/**
 * Opens a prepaid account and its first `billing` token (returned once), in one transaction. With `email`,
 * that person is the account's first owner member (invited, or `ownerStatus` active for a self-serve
 * sign-up that proved the address), in the same transaction; the caller sends any invitation.
 */
export async function createAccount(input: {
  name: string;
  email?: string;
  ownerStatus?: MemberStatus;
  /** Who opens it: the operator (/admin), or the system (a self-serve sign-up). */
  actor?: Actor;
  /** More writes for the same transaction (a sign-up's grant guard, an audit entry). */
  also?: (account: Account) => TransactItem[];
}): Promise<{ account: Account; token: string; owner?: Member }> {
  const at = nowIso();
  const email = input.email ? normalEmail(input.email) : undefined;
  const account: Account = {
    account_id: newAccountId(),
    name: input.name,
    ...(email ? { email } : {}),
    billing_mode: 'prepaid',
    balance: ZERO,
    held: ZERO,
    available: ZERO,
    entry_count: 0,
    created_at: at,
    updated_at: at,
  };
  const token = prepareToken({
    accountId: account.account_id,
    tokenId: newTokenId(),
    name: 'Initial billing token',
    scopes: ['api', 'billing'],
    at,
  });
  const owner = email
    ? prepareMember(
        account.account_id,
        { email, role: 'owner', ...(input.ownerStatus ? { status: input.ownerStatus } : {}) },
        input.actor ?? { type: 'operator' },
      )
    : undefined;
  const outcome = await transactWrite([
    newAccountPut(account),
    ...token.items,
    newTokenCounterPut(account.account_id, 1),
    ...(owner?.items ?? []),
    ...(input.also?.(account) ?? []),
  ]);
  if (!outcome.committed)
    throw new Error(`opening an account was refused: ${JSON.stringify(outcome.reasons)}`);
  return { account, token: token.token, ...(owner ? { owner: owner.member } : {}) };
}

export async function requireAccount(accountId: string): Promise<Account> {
  const account = await getAccount(accountId);
  if (!account) throw new NotFoundError('Account not found');
  return account;
}

/**
 * An operator's grant (positive) or correction (negative). `entryId` is the request's ULID, so a redelivered
 * request finds its own entry; `guard` is the Idempotency-Key's permanent reference when there is one.
 */
export async function adjustCredits(input: {
  accountId: string;
  amount: Micros;
  reason: string;
  entryId: string;
  requestId?: string;
  guard?: Guard;
  /**
   * One more conditional write in the grant's transaction (a sign-up's once-per-address guard): when only its
   * condition fails, nothing is written and the ledger's BoundChangedError is thrown.
   */
  bound?: TransactItem;
  /** Who asked (the operator): recorded in the audit trail, in the credit's transaction. */
  actor?: Actor;
}): Promise<LedgerEntry> {
  const type = input.amount >= 0 ? 'grant' : 'correction';
  // The event carries the time of its ledger entry: one clock reading for both.
  const at = nowIso();
  const announced = billingEvent(
    type === 'grant' ? 'credits.granted' : 'credits.corrected',
    input.accountId,
    {
      amount: toWire(input.amount),
      reason: input.reason,
      entry_id: input.entryId,
    },
    at,
  );
  const outcome = await applyCredit({
    accountId: input.accountId,
    entryId: input.entryId,
    type,
    amount: input.amount,
    at,
    reason: input.reason,
    ...(input.requestId ? { requestId: input.requestId } : {}),
    ...(input.guard ? { guard: input.guard } : {}),
    ...(input.bound ? { bound: input.bound } : {}),
    events: [announced],
    ...(input.actor
      ? {
          audit: auditItem(
            input.accountId,
            input.actor,
            type === 'grant' ? 'credits.granted' : 'credits.corrected',
            {
              target: input.entryId,
              details: { amount: toWire(input.amount), reason: input.reason, entry_id: input.entryId },
            },
          ),
        }
      : {}),
  });
  if (outcome.status === 'insufficient') {
    if (!outcome.account) throw new NotFoundError('Account not found');
    throw new BalanceWouldGoNegativeError();
  }
  if (outcome.status === 'already_applied') {
    return {
      entry_id: outcome.entryId,
      account_id: input.accountId,
      type,
      amount: outcome.amount,
      created_at: nowIso(),
      reason: input.reason,
    };
  }
  return outcome.entry;
}

/** Seeds and scripts: grant whole dollars without an HTTP request. */
export async function grantCredits(input: {
  accountId: string;
  amountUsd: number;
  reason: string;
}): Promise<LedgerEntry> {
  return adjustCredits({
    accountId: input.accountId,
    amount: fromWire(input.amountUsd),
    reason: input.reason,
    entryId: newUlid(),
  });
}

const billingMode = z.enum(['prepaid', 'postpaid', 'marketplace', 'marketplace_contract']);
/** Postpaid accounts only. */
const postpaidFields = z.partial(postpaidSchema).shape;
/** Marketplace buyers only. */
const subscriptionStatus = z.optional(
  z.string().check(z.describe('active, cancel_pending, cancelled or failed')),
);

/** Marketplace contract accounts only: what the contract entitles and what was granted for it. */
const contractSchema = z.optional(
  z.object({
    /** USD the contracts in force entitle (every credit dimension, priced by MARKETPLACE_CREDIT_DIMENSIONS). */
    entitled: usd,
    /** USD granted for them so far: above `entitled` after a downgrade (credits are never taken back). */
    granted: usd,
    /** When the contract in force ends (the latest, when several are); null when none states an end. */
    contract_end: z.nullable(isoTime),
    /** Where to buy more: the product's AWS Marketplace page (MARKETPLACE_LISTING_URL), or null. */
    listing_url: z.nullable(z.string()),
  }),
);

function contractView(account: Account) {
  if (account.billing_mode !== 'marketplace_contract') return {};
  const summary = account.marketplace_contract;
  return {
    marketplace: {
      entitled: toWire(summary?.entitled ?? ZERO),
      granted: toWire(summary?.granted ?? ZERO),
      contract_end: summary?.contract_end ?? null,
      listing_url: config.marketplaceListingUrl ?? null,
    },
  };
}

/** The account as the operator API shows it. */
export const operatorAccountSchema = z.object({
  account_id: z.string(),
  name: z.string(),
  email: z.nullable(z.string()),
  billing_mode: billingMode,
  balance: usd,
  held: usd,
  available: usd,
  currency: z.literal('USD'),
  ...postpaidFields,
  subscription_status: subscriptionStatus,
  marketplace: contractSchema,
  /** Prepaid: how many balance items the spendable balance is split across (`PUT …/balance-shards`). */
  balance_shards: z.optional(z.number()),
  created_at: isoTime,
});

export function operatorView(account: Account): z.output<typeof operatorAccountSchema> {
  return {
    account_id: account.account_id,
    name: account.name,
    email: account.email ?? null,
    billing_mode: account.billing_mode,
    balance: toWire(account.balance),
    held: toWire(account.held),
    available: toWire(account.available),
    currency: 'USD',
    ...(account.billing_mode === 'postpaid' ? postpaidView(account) : {}),
    ...(account.subscription_status ? { subscription_status: account.subscription_status } : {}),
    ...contractView(account),
    ...(account.billing_mode === 'prepaid' ? { balance_shards: account.balance_shards ?? 1 } : {}),
    created_at: account.created_at,
  };
}

/** `GET /v1/credits`. */
export const creditsSchema = z.object({
  balance: usd,
  available: usd,
  held: usd,
  currency: z.literal('USD'),
  billing_mode: billingMode,
  ...postpaidFields,
  subscription_status: subscriptionStatus,
  marketplace: contractSchema,
});

export function creditsView(account: Account): z.output<typeof creditsSchema> {
  return {
    balance: toWire(account.balance),
    available: toWire(account.available),
    held: toWire(account.held),
    currency: 'USD',
    billing_mode: account.billing_mode,
    ...(account.billing_mode === 'postpaid' ? postpaidView(account) : {}),
    ...(account.subscription_status ? { subscription_status: account.subscription_status } : {}),
    ...contractView(account),
  };
}
