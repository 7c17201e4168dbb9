// The table's schema, declared once: the CDK data stack and the local stack both build the table from it.

export const tableSchema = {
  partitionKey: 'PK',
  sortKey: 'SK',
  /** Sparse index: only items that need attention carry GSI1PK (open holds now; due refills later). */
  indexes: [{ name: 'GSI1', partitionKey: 'GSI1PK', sortKey: 'GSI1SK' }],
  timeToLiveAttribute: 'expires_at',
} as const;

export type TableSchema = typeof tableSchema;
