// AWS Marketplace contract: the buyer paid AWS up front for a quantity of credit dimensions, and the
// entitlements land as credits (shared/marketplace/entitlements.ts). Usage is then debited exactly like
// prepaid usage (holds, the `available >= cost` condition, 402 at zero): the account writes require this
// mode instead. Nothing else funds the account: checkout and auto-refill refuse it (409 wrong_billing_mode),
// so the auto-refill parts of the debited rules never act (the account is never listed for refills).
import type { BillingModeRules, ContractBilling } from './mode.ts';
import { debitedMode } from './prepaid.ts';

const CONTRACT = 'marketplace_contract';
const billing: ContractBilling = { mode: CONTRACT };

export const marketplaceContract: BillingModeRules<ContractBilling> = debitedMode<ContractBilling>(
  CONTRACT,
  () => billing,
);
