// Subscription lifecycle: AWS Marketplace's EventBridge events (`aws.agreement-marketplace`) and the legacy
// SNS messages, turned into the account's subscription status. Each fact carries its time; the account keeps
// the version (time, then rank) of the fact it shows and takes a fact only when it is newer, so the same
// event twice, or events out of order, always end in the same state. An ended subscription gets its final
// usage reported at once (AWS accepts it for about an hour after the cancellation). A fact about a buyer who
// has not registered yet is remembered (early-facts.ts) and applied by its registration.
import { getAccount } from '../accounts/repository.ts';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { transactWrite } from '../dynamo/transact.ts';
import { logger } from '../observability/powertools.ts';
import {
  type BuyerIdentity,
  buyersIndex,
  type CustomerLookup,
  ENDED_STATES,
  findCustomer,
  findCustomerByIdentifier,
  type SubscriptionStatus,
  subscriptionVersion,
} from './buyers.ts';
import { rememberFact } from './early-facts.ts';
import { type ContractSync, syncContract } from './entitlements.ts';
import { type MeteringSummary, runMetering } from './metering.ts';

export type SubscriptionFact = {
  status: SubscriptionStatus;
  /** When it happened (the event's time). */
  at: string;
  customerAwsAccountId?: string;
  customerIdentifier?: string;
  /** The license the fact is about: a fact about an earlier license does not touch a re-subscription. */
  licenseArn?: string;
  source: string;
};

export type LifecycleOutcome =
  | { outcome: 'applied'; account_id: string; status: SubscriptionStatus }
  | { outcome: 'already_applied_or_older'; account_id: string }
  /** No account for this buyer yet: the fact waits for the registration. */
  | { outcome: 'remembered' | 'already_remembered_or_older'; reason: string }
  | { outcome: 'unknown_buyer' | 'ignored'; reason: string };

type EventBridgeEvent = {
  source?: string;
  'detail-type'?: string;
  time?: string;
  detail?: Record<string, unknown>;
};

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;
const field = (value: unknown, name: string): unknown =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;

/** Agreement endings that are not the buyer leaving (the agreement was replaced by an amended one). */
const NOT_A_CANCELLATION = new Set(['REPLACED', 'RENEWED', 'ROLLED_BACK']);

/** The fact an EventBridge event states, or why it states none. */
export function factFromEvent(event: EventBridgeEvent): SubscriptionFact | { ignored: string } {
  if (event.source !== 'aws.agreement-marketplace') return { ignored: `source ${event.source}` };
  const type = event['detail-type'] ?? '';
  const detail = event.detail ?? {};
  const at = str(event.time) ?? nowIso();
  const customerAwsAccountId = str(field(detail.acceptor, 'accountId'));
  const licenseArn = str(detail.licenseArn) ?? str(field(detail.license, 'arn'));
  const customerIdentifier = str(detail.customerIdentifier);
  let status: SubscriptionStatus;
  if (type.startsWith('Purchase Agreement Created') || type.startsWith('Purchase Agreement Amended')) {
    status = 'active';
  } else if (type.startsWith('License Updated')) {
    status = 'active';
  } else if (type.startsWith('Purchase Agreement Ended')) {
    const agreementStatus = str(field(detail.agreement, 'status'));
    if (agreementStatus && NOT_A_CANCELLATION.has(agreementStatus)) {
      return { ignored: `agreement ended as ${agreementStatus}` };
    }
    status = 'cancelled';
  } else if (type.startsWith('License Deprovisioned')) {
    status = 'cancelled';
  } else {
    return { ignored: `detail-type ${type}` };
  }
  return {
    status,
    at,
    ...(customerAwsAccountId ? { customerAwsAccountId } : {}),
    ...(customerIdentifier ? { customerIdentifier } : {}),
    ...(licenseArn ? { licenseArn } : {}),
    source: type,
  };
}

const SNS_ACTIONS: Record<string, SubscriptionStatus | undefined> = {
  'subscribe-success': 'active',
  'subscribe-fail': 'failed',
  'unsubscribe-pending': 'cancel_pending',
  'unsubscribe-success': 'cancelled',
};

/** The fact of a legacy SNS subscription message (`{"action", "customer-identifier", ...}`). */
export function factFromSnsMessage(
  message: string,
  timestamp: string,
): SubscriptionFact | { ignored: string } {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(message) as Record<string, unknown>;
  } catch {
    return { ignored: 'SNS message is not JSON' };
  }
  const action = str(parsed.action) ?? '';
  const status = SNS_ACTIONS[action];
  if (!status) return { ignored: `action ${action}` };
  const customerIdentifier = str(parsed['customer-identifier']);
  const customerAwsAccountId = str(parsed['customer-aws-account-id']);
  return {
    status,
    at: timestamp,
    ...(customerIdentifier ? { customerIdentifier } : {}),
    ...(customerAwsAccountId ? { customerAwsAccountId } : {}),
    source: `sns:${action}`,
  };
}

async function lookupBuyer(fact: SubscriptionFact): Promise<CustomerLookup | undefined> {
  if (fact.customerAwsAccountId) return findCustomer(fact.customerAwsAccountId);
  if (fact.customerIdentifier) return findCustomerByIdentifier(fact.customerIdentifier);
  return undefined;
}

/**
 * Applies the fact when it is newer than what the account shows; a replay or an older fact changes nothing.
 * A buyer with no account yet (normal for "agreement created": AWS announces the purchase before the buyer
 * lands on registration, and a cancellation may come before it too) gets the fact remembered instead.
 */
export async function applySubscriptionFact(fact: SubscriptionFact): Promise<LifecycleOutcome> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const buyer = await lookupBuyer(fact);
    if (buyer) return applyToAccount(fact, buyer);
    const remembered = await rememberFact(fact);
    switch (remembered) {
      case 'registered_meanwhile':
        continue;
      case 'unidentified':
        return { outcome: 'unknown_buyer', reason: 'the event names no buyer' };
      case 'remembered':
        logger.info('marketplace subscription fact remembered for registration', {
          status: fact.status,
          source: fact.source,
        });
        return { outcome: 'remembered', reason: 'no account registered for this buyer yet' };
      default:
        return { outcome: 'already_remembered_or_older', reason: 'no account registered for this buyer yet' };
    }
  }
  throw new Error('subscription change not applied: the buyer kept registering meanwhile');
}

async function applyToAccount(fact: SubscriptionFact, buyer: CustomerLookup): Promise<LifecycleOutcome> {
  if (fact.licenseArn && fact.licenseArn !== buyer.license_arn) {
    return { outcome: 'ignored', reason: 'the event is about an earlier license of this buyer' };
  }
  const accountId = buyer.account_id;
  // A contract buyer's usage is debited, not reported: it never joins the index of buyers to meter.
  const metered = (await getAccount(accountId))?.billing_mode !== 'marketplace_contract';
  const version = subscriptionVersion(fact.at, fact.status);
  const ended = ENDED_STATES.includes(fact.status);
  const at = nowIso();
  const eventAt = new Date(fact.at).toISOString();
  const index = buyersIndex(accountId);
  const outcome = await transactWrite([
    {
      Update: {
        TableName: config.tableName,
        Key: keys.account(accountId),
        UpdateExpression: ended
          ? 'SET subscription_status = :status, subscription_version = :v, cancelled_at = :eventAt, updated_at = :at'
          : 'SET subscription_status = :status, subscription_version = :v, updated_at = :at REMOVE cancelled_at',
        ConditionExpression:
          'billing_mode IN (:mode, :contract) AND (attribute_not_exists(subscription_version) OR subscription_version < :v)',
        ExpressionAttributeValues: {
          ':status': fact.status,
          ':v': version,
          ':at': at,
          ':mode': 'marketplace',
          ':contract': 'marketplace_contract',
          ...(ended ? { ':eventAt': eventAt } : {}),
        },
      },
    },
    {
      Update: {
        TableName: config.tableName,
        Key: keys.marketplaceBuyer(accountId),
        // An ended buyer stays in the index until its last hour has left the window (the job retires it).
        UpdateExpression: ended
          ? 'SET ends_at = :eventAt'
          : metered
            ? 'SET GSI1PK = :gpk, GSI1SK = :gsk REMOVE ends_at'
            : 'REMOVE ends_at',
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: ended
          ? { ':eventAt': eventAt }
          : metered
            ? { ':gpk': index.GSI1PK, ':gsk': index.GSI1SK }
            : undefined,
      },
    },
  ]);
  if (!outcome.committed) {
    const code = outcome.reasons[0]?.code;
    if (code === 'ConditionalCheckFailed')
      return { outcome: 'already_applied_or_older', account_id: accountId };
    throw new Error(`subscription change not applied: ${outcome.reasons.map((r) => r.code).join(', ')}`);
  }
  logger.info('marketplace subscription changed', { accountId, status: fact.status, source: fact.source });
  return { outcome: 'applied', account_id: accountId, status: fact.status };
}

type SnsEvent = { Records: { Sns?: { Message?: string; Timestamp?: string } }[] };

export type LifecycleReport = {
  results: (LifecycleOutcome & { flushed?: MeteringSummary['reported'] })[];
  /** Contract buyers the event names: their entitlements read and granted. */
  contracts: ContractSync[];
};

/** The buyer an event or SNS message names, whatever it says happened (any of them may change a contract). */
function namedBuyer(
  event: EventBridgeEvent | SnsEvent,
): Pick<SubscriptionFact, 'customerAwsAccountId' | 'customerIdentifier'>[] {
  if ('Records' in event && Array.isArray(event.Records)) {
    return event.Records.flatMap((record) => {
      try {
        const message = JSON.parse(record.Sns?.Message ?? '') as Record<string, unknown>;
        const customerIdentifier = str(message['customer-identifier']);
        const customerAwsAccountId = str(message['customer-aws-account-id']);
        return customerIdentifier || customerAwsAccountId
          ? [
              {
                ...(customerIdentifier ? { customerIdentifier } : {}),
                ...(customerAwsAccountId ? { customerAwsAccountId } : {}),
              },
            ]
          : [];
      } catch {
        return [];
      }
    });
  }
  const bridge = event as EventBridgeEvent;
  if (bridge.source !== 'aws.agreement-marketplace') return [];
  const customerAwsAccountId = str(field(bridge.detail?.acceptor, 'accountId'));
  const customerIdentifier = str(bridge.detail?.customerIdentifier);
  return customerAwsAccountId || customerIdentifier
    ? [
        {
          ...(customerAwsAccountId ? { customerAwsAccountId } : {}),
          ...(customerIdentifier ? { customerIdentifier } : {}),
        },
      ]
    : [];
}

/**
 * Grants each contract buyer the event names what its entitlements owe now (agreement created, amended,
 * renewed, licence updated, the legacy `entitlement-updated` message: each is a reason to look). A failed read
 * fails the event, which EventBridge (or SNS) delivers again; the grant is exactly-once either way.
 */
async function syncNamedContracts(event: EventBridgeEvent | SnsEvent): Promise<ContractSync[]> {
  const synced: ContractSync[] = [];
  const seen = new Set<string>();
  for (const named of namedBuyer(event)) {
    const buyer = await lookupBuyer({ status: 'active', at: nowIso(), source: 'contract', ...named });
    if (!buyer || seen.has(buyer.account_id)) continue;
    seen.add(buyer.account_id);
    const account = await getAccount(buyer.account_id);
    const identity = (account as { marketplace?: BuyerIdentity } | undefined)?.marketplace;
    if (account?.billing_mode !== 'marketplace_contract' || !identity) continue;
    synced.push(await syncContract(buyer.account_id, identity));
  }
  return synced;
}

/**
 * The lifecycle function's work: the facts of an EventBridge event or an SNS batch, applied; then, for a
 * subscription that has ended, its final hours reported now. Running it again is harmless: the facts are
 * already applied and the flush finds the hours reported.
 */
export async function processLifecycleEvent(event: EventBridgeEvent | SnsEvent): Promise<LifecycleReport> {
  const facts: (SubscriptionFact | { ignored: string })[] =
    'Records' in event && Array.isArray(event.Records)
      ? event.Records.map((record) =>
          factFromSnsMessage(record.Sns?.Message ?? '', record.Sns?.Timestamp ?? nowIso()),
        )
      : [factFromEvent(event as EventBridgeEvent)];
  const results: LifecycleReport['results'] = [];
  for (const fact of facts) {
    if ('ignored' in fact) {
      results.push({ outcome: 'ignored', reason: fact.ignored });
      continue;
    }
    const outcome = await applySubscriptionFact(fact);
    if (!('account_id' in outcome)) {
      results.push(outcome);
      continue;
    }
    const account = await getAccount(outcome.account_id);
    const status = (account as { subscription_status?: SubscriptionStatus } | undefined)?.subscription_status;
    // A contract buyer has no reported usage to flush.
    if (status && ENDED_STATES.includes(status) && account?.billing_mode === 'marketplace') {
      const flush = await runMetering({ accountId: outcome.account_id });
      results.push({ ...outcome, flushed: flush.reported });
    } else {
      results.push(outcome);
    }
  }
  // After the facts, so a cancellation is never held up by an entitlement read that fails.
  const contracts = await syncNamedContracts(event);
  return { results, contracts };
}
