// Marketplace emulator: its state as one JSON document, for `npm start` to keep across restarts: the
// buyers (so a registered buyer still resolves and is metered, with its contract's entitlements, term and
// agreement), the billed records that duplicate detection needs, and every record received. A file written
// before contracts existed restores as pay-as-you-go buyers (the contract fields are optional). The test
// controls (throttling, unprocessed records, failing GetEntitlements) start over.
import * as z from 'zod/mini';
import {
  addCustomer,
  type BilledRecord,
  type Customer,
  createStore,
  type MarketplaceStore,
  type StoredRecord,
} from './store.ts';

const FORMAT = 1;

const savedStateSchema = z.object({
  format: z.literal(FORMAT),
  customers: z.array(z.unknown()),
  products: z.array(z.string()),
  billed: z.array(z.tuple([z.string(), z.unknown()])),
  hourStyles: z.array(z.tuple([z.string(), z.enum(['customer_identifier', 'license'])])),
  records: z.array(z.unknown()),
});

export type SavedMarketplaceState = z.infer<typeof savedStateSchema>;

export function saveMarketplaceState(store: MarketplaceStore): SavedMarketplaceState {
  return {
    format: FORMAT,
    customers: store.customers,
    products: [...store.products],
    billed: [...store.billed],
    hourStyles: [...store.hourStyles],
    records: store.records,
  };
}

/** `undefined` when `saved` is not a state this version wrote. */
export function restoreMarketplaceState(
  saved: unknown,
  defaultProductCode: string,
): MarketplaceStore | undefined {
  const parsed = savedStateSchema.safeParse(saved);
  if (!parsed.success) return undefined;
  const state = parsed.data;
  const store = createStore(defaultProductCode);
  // The buyers and records are the emulator's own, written by `saveMarketplaceState`.
  for (const customer of state.customers) addCustomer(store, customer as Customer);
  for (const product of state.products) store.products.add(product);
  for (const [key, billed] of state.billed) store.billed.set(key, billed as BilledRecord);
  for (const [key, style] of state.hourStyles) store.hourStyles.set(key, style);
  store.records.push(...(state.records as StoredRecord[]));
  return store;
}
