// Every key of the single table, built in one place.

export const keys = {
  account: (accountId: string) => ({ PK: `ACCOUNT#${accountId}`, SK: 'ACCOUNT' }),
  /** Secret lookup: the token's hash is the key, so authentication is one GetItem. */
  tokenByHash: (hash: string) => ({ PK: `TOKEN#${hash}`, SK: 'TOKEN' }),
  /** The account's own record of a token: listing, revocation and last use. */
  accountToken: (accountId: string, tokenId: string) => ({
    PK: `ACCOUNT#${accountId}`,
    SK: `TOKEN#${tokenId}`,
  }),
  accountTokensPrefix: 'TOKEN#',
  /** A service key's secret lookup, like a token's: authentication is one GetItem by the key's hash. */
  serviceKeyByHash: (hash: string) => ({ PK: `SERVICE_KEY#${hash}`, SK: 'SERVICE_KEY' }),
  /** The operator's record of a service key. They are few (one per backend), so one partition lists them. */
  serviceKey: (keyId: string) => ({ PK: 'SERVICE_KEYS', SK: `KEY#${keyId}` }),
  serviceKeysPartition: 'SERVICE_KEYS',
  /**
   * How many of the account's tokens are active: changed only in the transactions that create (below the cap)
   * and revoke tokens. Its own item, not the account's, so token changes never contend with charges.
   */
  tokenCounter: (accountId: string) => ({ PK: `ACCOUNT#${accountId}`, SK: 'TOKEN_COUNT' }),
  /**
   * How many requests the instances' rate-limit buckets let through for one token or account, summed across
   * instances (shared/rate-limit/shared-count.ts). Its own partition, so the syncs never add writes to the
   * partition an account's charges debit. `subject`: `TOKEN#<token id>` or `ACCOUNT#<account id>`.
   */
  rateCount: (subject: string) => ({ PK: `RATE#${subject}`, SK: 'RATE' }),
  /**
   * A token's own spend limit (shared/tokens/spend-limit.ts): present only for tokens that have one, written
   * in each of the token's charges. Its own partition, so limited tokens add no write to the account's.
   */
  tokenLimit: (accountId: string, tokenId: string) => ({
    PK: `TOKEN_LIMIT#${accountId}#${tokenId}`,
    SK: 'TOKEN_LIMIT',
  }),
  /** A customer's webhook endpoint (shared/webhook-endpoints/): its URL, subscribed types, secret, health. */
  webhookEndpoint: (accountId: string, endpointId: string) => ({
    PK: `ACCOUNT#${accountId}`,
    SK: `WEBHOOK_ENDPOINT#${endpointId}`,
  }),
  webhookEndpointsPrefix: 'WEBHOOK_ENDPOINT#',
  /** How many webhook endpoints the account has: changed only with the create and delete transactions. */
  webhookEndpointCount: (accountId: string) => ({ PK: `ACCOUNT#${accountId}`, SK: 'WEBHOOK_ENDPOINT_COUNT' }),
  /**
   * One event's delivery to one endpoint (`sortKey` from deliverySortKey: event time, then event id, so the
   * log reads newest first). Its own partition per endpoint: deliveries never write the account partition.
   */
  webhookDelivery: (endpointId: string, sortKey: string) => ({
    PK: `WEBHOOK_DELIVERIES#${endpointId}`,
    SK: sortKey,
  }),
  webhookDeliveriesPartition: (endpointId: string) => `WEBHOOK_DELIVERIES#${endpointId}`,
  /** Who is emailed about the account's billing, and for what (shared/notifications/settings.ts). */
  notificationSettings: (accountId: string) => ({ PK: `ACCOUNT#${accountId}`, SK: 'NOTIFICATIONS' }),
  /** How the account's notification emails fare: the last one sent, the last failure (GET /v1/notifications). */
  notificationStatus: (accountId: string) => ({ PK: `ACCOUNT#${accountId}`, SK: 'NOTIFICATION_STATUS' }),
  /**
   * The claim that sends one event's email to one recipient once (shared/notifications/send.ts); its own
   * partition per event, expired by TTL long after any redelivery.
   */
  emailClaim: (eventId: string, recipient: string) => ({
    PK: `EMAIL#${eventId}`,
    SK: `TO#${recipient.toLowerCase()}`,
  }),
  /**
   * The low-balance alert's state (shared/notifications/low-balance.ts): which threshold it fired for, or armed.
   * Its own item, so a PUT of the settings (which replaces theirs whole) never re-arms it.
   */
  lowBalanceAlert: (accountId: string) => ({ PK: `ACCOUNT#${accountId}`, SK: 'LOW_BALANCE_ALERT' }),
  /**
   * A member of the account (shared/members/): email, role, invited or active. `memberId` is random, so a
   * removed and re-invited person is a new member and an old session of theirs finds nothing.
   */
  member: (accountId: string, memberId: string) => ({ PK: `ACCOUNT#${accountId}`, SK: `MEMBER#${memberId}` }),
  membersPrefix: 'MEMBER#',
  /**
   * How many members and owners the account has: changed only in the transactions that invite, change a
   * role or remove, whose conditions on it keep at least one owner (and the member cap) under races.
   */
  memberCount: (accountId: string) => ({ PK: `ACCOUNT#${accountId}`, SK: 'MEMBER_COUNT' }),
  /**
   * A person's membership of one account, keyed by the hash of their (lower-cased) email: sign-in lists a
   * person's accounts with one Query, and an address is a member of an account at most once.
   */
  personAccount: (emailHash: string, accountId: string) => ({
    PK: `PERSON#${emailHash}`,
    SK: `ACCOUNT#${accountId}`,
  }),
  personPartition: (emailHash: string) => `PERSON#${emailHash}`,
  /** An email sign-in (or sign-up) link, by the hash of its secret: one conditional write uses it once. */
  signInLink: (secretHash: string) => ({ PK: `SIGNIN#${secretHash}`, SK: 'SIGNIN' }),
  /** A dashboard session, by the hash of the cookie's random id; expired by its own dates (and TTL). */
  session: (sessionHash: string) => ({ PK: `SESSION#${sessionHash}`, SK: 'SESSION' }),
  /** The sessions of one person, so removing a member or signing out everywhere can find them. */
  personSessions: (emailHash: string) => `PERSON_SESSIONS#${emailHash}`,
  /** The once-per-address guard of self-serve sign-up credits: written with the grant, never deleted. */
  signupGrant: (emailHash: string) => ({ PK: `SIGNUP#${emailHash}`, SK: 'SIGNUP' }),
  /** A fixed-window counter of /auth requests for one subject (`EMAIL#<hash>` or `CLIENT#<ip>`), TTL-expired. */
  authRate: (subject: string, window: string) => ({ PK: `AUTH_RATE#${subject}`, SK: window }),
  /** One entry of the account's audit trail of billing changes (shared/audit/), newest last by ULID. */
  auditEntry: (accountId: string, entryId: string) => ({
    PK: `ACCOUNT#${accountId}`,
    SK: `AUDIT#${entryId}`,
  }),
  auditPrefix: 'AUDIT#',
  ledgerEntry: (accountId: string, entryId: string) => ({
    PK: `ACCOUNT#${accountId}`,
    SK: `LEDGER#${entryId}`,
  }),
  ledgerPrefix: 'LEDGER#',
  /**
   * One of a sharded account's balance items (shard 1..N-1; shard 0 is the account item itself,
   * shared/ledger/shards.ts). Each has its own partition, so the account's debits spread over N partitions.
   */
  balanceShard: (accountId: string, shard: number) => ({
    PK: `BALANCE_SHARD#${accountId}#${shard}`,
    SK: 'BALANCE_SHARD',
  }),
  /**
   * One of the ledger slots of an account that was ever sharded: its charges' entries (and their
   * Idempotency-Key guards) land in the slot their entry id hashes to, so they do not all write one partition.
   * Sort keys are the same as in the account partition (`LEDGER#…`, `REF#…`).
   */
  ledgerSlot: (accountId: string, slot: number) => `LEDGER_SLOT#${accountId}#${slot}`,
  hold: (accountId: string, holdId: string) => ({ PK: `ACCOUNT#${accountId}`, SK: `HOLD#${holdId}` }),
  holdPrefix: 'HOLD#',
  /** How far reconciliation has summed the account's ledger, and where its possibly open holds begin. */
  reconcileCheckpoint: (accountId: string) => ({ PK: `ACCOUNT#${accountId}`, SK: 'RECONCILE' }),
  /** Where an unfinished reconciliation pass stopped, per scan segment. */
  reconcileRun: { PK: 'RECONCILE', SK: 'RUN' },
  /** Open holds sit in sparse index shards ordered by expiry, so the expiry job reads only what is due. */
  openHoldIndex: (shard: number, expiresAtIso: string, accountId: string, holdId: string) => ({
    GSI1PK: `OPEN_HOLDS#${shard}`,
    GSI1SK: `${expiresAtIso}#${accountId}#${holdId}`,
  }),
  openHoldShard: (shard: number) => `OPEN_HOLDS#${shard}`,
  /**
   * One usage rollup of an account (shared/usage/rollups.ts): a fixed-size item per day or month, feature and
   * (optionally) token, derived from the ledger by the stream. The account's usage has its own partition,
   * so rolling it up never adds writes to the partition its charges debit.
   */
  usageRollup: (accountId: string, sortKey: string) => ({ PK: `USAGE#${accountId}`, SK: sortKey }),
  usagePartition: (accountId: string) => `USAGE#${accountId}`,
  /** How many of the account's ledger entries the rollups include, and when the last were applied. */
  usageWatermark: (accountId: string) => ({ PK: `USAGE#${accountId}`, SK: 'WATERMARK' }),
  /**
   * Marks one ledger entry as rolled up, in the transaction that adds it (TTL: longer than the stream keeps
   * records). Its own partition per entry, so the markers of a busy account spread over the table.
   */
  usageApplied: (accountId: string, entryId: string) => ({
    PK: `USAGE_APPLIED#${accountId}#${entryId}`,
    SK: 'USAGE_APPLIED',
  }),
  /** Permanent guard for one external reference (payment id, refill id): it moves money once, forever. */
  reference: (accountId: string, reference: string) => ({
    PK: `ACCOUNT#${accountId}`,
    SK: `REF#${reference}`,
  }),
  purchase: (accountId: string, purchaseId: string) => ({
    PK: `ACCOUNT#${accountId}`,
    SK: `PURCHASE#${purchaseId}`,
  }),
  /**
   * Which purchase a Stripe Checkout Session was opened for: the unauthenticated return page finds its
   * purchase with one read, and an id this deployment never made costs no Stripe call.
   */
  checkoutSession: (sessionId: string) => ({ PK: `CHECKOUT#${sessionId}`, SK: 'CHECKOUT' }),
  /** Which account a saved Stripe payment method belongs to (detach events carry no customer). */
  paymentMethod: (paymentMethodId: string) => ({
    PK: `PAYMENT_METHOD#${paymentMethodId}`,
    SK: 'PAYMENT_METHOD',
  }),
  idempotency: (scope: string, keyHash: string) => ({ PK: `IDEMPOTENCY#${scope}`, SK: `KEY#${keyHash}` }),
  /**
   * An account's Idempotency-Key record, spread over 256 partitions by the key's hash, so a hot account's
   * keys do not all write one partition (records written before this are still found at `idempotency`).
   */
  idempotencySpread: (scope: string, keyHash: string) => ({
    PK: `IDEMPOTENCY#${scope}#${keyHash.slice(0, 2)}`,
    SK: `KEY#${keyHash}`,
  }),
  /**
   * A postpaid account's billing period (UTC month `YYYY-MM`): its usage summed per feature by the charging
   * transaction, and the period's invoice claim and state (written by the invoicing job).
   */
  period: (accountId: string, period: string) => ({ PK: `ACCOUNT#${accountId}`, SK: `PERIOD#${period}` }),
  periodPrefix: 'PERIOD#',
  /** Periods with usage not yet invoiced sit in sparse index shards, one partition set per period. */
  invoiceDueIndex: (period: string, shard: number, accountId: string) => ({
    GSI1PK: `INVOICE_DUE#${period}#${shard}`,
    GSI1SK: accountId,
  }),
  invoiceDueShard: (period: string, shard: number) => `INVOICE_DUE#${period}#${shard}`,
  /**
   * A marketplace buyer's usage in one UTC hour and dimension (`hour` = the hour's start, ISO without
   * milliseconds, e.g. 2026-12-01T13:00:00Z): summed by the charging transaction, then reported by the
   * metering job (state pending → claimed → reported | rejected).
   */
  marketplaceHour: (accountId: string, hour: string, dimension: string) => ({
    PK: `ACCOUNT#${accountId}`,
    SK: `MKT_HOUR#${hour}#${dimension}`,
  }),
  marketplaceHourPrefix: 'MKT_HOUR#',
  /** Hours not yet reported, in sparse index shards ordered by hour, so the job reads only pending work. */
  marketplacePendingIndex: (shard: number, hour: string, accountId: string, dimension: string) => ({
    GSI1PK: `MKT_PENDING#${shard}`,
    GSI1SK: `${hour}#${accountId}#${dimension}`,
  }),
  marketplacePendingShard: (shard: number) => `MKT_PENDING#${shard}`,
  /** Which account an AWS Marketplace buyer (its AWS account id) has: written once, with the account. */
  marketplaceCustomer: (customerAwsAccountId: string) => ({
    PK: `MKT_CUSTOMER#${customerAwsAccountId}`,
    SK: 'MKT_CUSTOMER',
  }),
  /**
   * One AWS Marketplace registration token (by its SHA-256) used: written with the billing token it minted,
   * so a replayed registration form mints nothing.
   */
  marketplaceRegistration: (registrationTokenHash: string) => ({
    PK: `MKT_REGISTRATION#${registrationTokenHash}`,
    SK: 'MKT_REGISTRATION',
  }),
  /** Every buyer ever registered, in index shards (reconciliation reads them). */
  marketplaceCustomersIndex: (shard: number, accountId: string) => ({
    GSI1PK: `MKT_CUSTOMERS#${shard}`,
    GSI1SK: accountId,
  }),
  marketplaceCustomersShard: (shard: number) => `MKT_CUSTOMERS#${shard}`,
  /** The buyer's metering registration: identity, zero-hour cursor, end of subscription. */
  marketplaceBuyer: (accountId: string) => ({ PK: `ACCOUNT#${accountId}`, SK: 'MKT_BUYER' }),
  /** Buyers that need an hourly record (subscribed, or cancelled less than a window ago), in index shards. */
  marketplaceBuyersIndex: (shard: number, accountId: string) => ({
    GSI1PK: `MKT_BUYERS#${shard}`,
    GSI1SK: accountId,
  }),
  marketplaceBuyersShard: (shard: number) => `MKT_BUYERS#${shard}`,
  /**
   * A lifecycle fact about a buyer who has not registered yet (`buyer` = `ACCT#<aws account id>` or
   * `CID#<customer identifier>`), per licence (`*` when the fact names none): applied by the registration,
   * removed by TTL.
   */
  marketplaceEarlyFact: (buyer: string, licenseArn: string | undefined) => ({
    PK: `MKT_EARLY#${buyer}`,
    SK: `LICENSE#${licenseArn ?? '*'}`,
  }),
  /** The buyer's fraction of a unit not yet reported in `dimension`, carried from hour to hour. */
  marketplaceCarry: (accountId: string, dimension: string) => ({
    PK: `ACCOUNT#${accountId}`,
    SK: `MKT_CARRY#${dimension}`,
  }),
  /**
   * An account with auto-refill on, in a shard of the sparse GSI2, whose sort key is the account item's own
   * `refill_headroom` (available − threshold): the sweep queries `refill_headroom < 0` in each shard.
   */
  refillListing: (accountId: string) => ({ GSI2PK: refillShard(shardOfAccount(accountId, REFILL_SHARDS)) }),
  /**
   * A billing event, recorded in the transaction of the change it announces and delivered from the table's
   * stream; its own partition, so an event never adds to a hot account partition.
   */
  event: (eventId: string) => ({ PK: `EVENT#${eventId}`, SK: 'EVENT' }),
};

export const REFILL_SHARDS = 4;

export function refillShard(shard: number): string {
  return `REFILL#${shard}`;
}

export const INVOICE_DUE_SHARDS = 8;
export const MARKETPLACE_PENDING_SHARDS = 4;

/** A stable shard for an account id (FNV-1a), so an account's index entries always land in one shard. */
export function shardOfAccount(accountId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < accountId.length; i++) {
    hash ^= accountId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

export const OPEN_HOLD_SHARDS = 8;

export function accountIdFromPk(pk: string): string {
  return pk.slice('ACCOUNT#'.length);
}
