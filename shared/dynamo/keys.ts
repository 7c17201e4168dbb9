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
  ledgerEntry: (accountId: string, entryId: string) => ({
    PK: `ACCOUNT#${accountId}`,
    SK: `LEDGER#${entryId}`,
  }),
  ledgerPrefix: 'LEDGER#',
  hold: (accountId: string, holdId: string) => ({ PK: `ACCOUNT#${accountId}`, SK: `HOLD#${holdId}` }),
  /** Open holds sit in sparse index shards ordered by expiry, so the expiry job reads only what is due. */
  openHoldIndex: (shard: number, expiresAtIso: string, accountId: string, holdId: string) => ({
    GSI1PK: `OPEN_HOLDS#${shard}`,
    GSI1SK: `${expiresAtIso}#${accountId}#${holdId}`,
  }),
  openHoldShard: (shard: number) => `OPEN_HOLDS#${shard}`,
  usageDay: (accountId: string, day: string) => ({ PK: `ACCOUNT#${accountId}`, SK: `USAGE#${day}` }),
  usagePrefix: 'USAGE#',
  /** Permanent guard for one external reference (payment id, refill id): it moves money once, forever. */
  reference: (accountId: string, reference: string) => ({
    PK: `ACCOUNT#${accountId}`,
    SK: `REF#${reference}`,
  }),
  purchase: (accountId: string, purchaseId: string) => ({
    PK: `ACCOUNT#${accountId}`,
    SK: `PURCHASE#${purchaseId}`,
  }),
  /** Which account a saved Stripe payment method belongs to (detach events carry no customer). */
  paymentMethod: (paymentMethodId: string) => ({
    PK: `PAYMENT_METHOD#${paymentMethodId}`,
    SK: 'PAYMENT_METHOD',
  }),
  idempotency: (scope: string, keyHash: string) => ({ PK: `IDEMPOTENCY#${scope}`, SK: `KEY#${keyHash}` }),
};

export const OPEN_HOLD_SHARDS = 8;

export function accountIdFromPk(pk: string): string {
  return pk.slice('ACCOUNT#'.length);
}
