// The table's schema, declared once: the CDK data stack and the local stack both build the table from it.

export type KeyType = 'S' | 'N';

export const tableSchema = {
  partitionKey: 'PK',
  sortKey: 'SK',
  indexes: [
    /** Sparse index: only items that need attention carry GSI1PK (open holds, invoices due, pending hours). */
    { name: 'GSI1', partitionKey: 'GSI1PK', sortKey: 'GSI1SK', sortKeyType: 'S' },
    /**
     * Accounts with auto-refill on, by how far their available balance is above the threshold
     * (`refill_headroom`, kept by every write that changes `available`): the sweep reads `< 0` only.
     */
    { name: 'GSI2', partitionKey: 'GSI2PK', sortKey: 'refill_headroom', sortKeyType: 'N' },
  ],
  timeToLiveAttribute: 'expires_at',
  /**
   * Every change, for the stream consumers (infra/definitions/streams.ts). Both images: a consumer that
   * derives sums needs the change, and the view type cannot change later without a new stream.
   */
  streamViewType: 'NEW_AND_OLD_IMAGES',
} as const satisfies {
  partitionKey: string;
  sortKey: string;
  indexes: readonly { name: string; partitionKey: string; sortKey: string; sortKeyType: KeyType }[];
  timeToLiveAttribute: string;
  streamViewType: 'NEW_AND_OLD_IMAGES';
};

export type TableSchema = typeof tableSchema;

/** Every key attribute of the table and its indexes, with its type, in declaration order. */
export function keyAttributes(): { name: string; type: KeyType }[] {
  const seen = new Map<string, KeyType>([
    [tableSchema.partitionKey, 'S'],
    [tableSchema.sortKey, 'S'],
  ]);
  for (const index of tableSchema.indexes) {
    seen.set(index.partitionKey, 'S');
    seen.set(index.sortKey, index.sortKeyType);
  }
  return [...seen].map(([name, type]) => ({ name, type }));
}
