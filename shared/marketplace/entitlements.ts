// AWS Marketplace contracts: a buyer's entitlements (GetEntitlements) turned into credits, exactly once.
//
// A contract line is one licence's entitlement in one credit dimension until one contract end: `units` of a
// dimension that MARKETPLACE_CREDIT_DIMENSIONS prices in USD per unit. Each line has a grant item
// (`MKT_GRANT#<contract>#<dimension>` under the account) counting the units granted for it; a grant moves
// the balance, writes the ledger entry and its `credits.granted` event, and raises the count from the one it
// read, all in one transaction (the count's condition is the guard). So:
// - an upgrade grants the difference once, however many events announce it and in whatever order (every
//   event reads the entitlements as they are now; a read older than the count grants nothing);
// - a downgrade grants nothing (credits are never taken back) and is recorded on the grant item, logged and
//   counted for the operator (GET /admin/accounts/{id}/marketplace-contract);
// - a renewal (a new contract end or licence) is a new line: the new contract's credits, once;
// - an expired entitlement grants nothing; a dimension not in the configuration grants nothing and is
//   alarmed (`MarketplaceUnknownDimension`), never guessed.
// Reads are retried with backoff (throttling, AWS faults); when they still fail the caller fails, and the
// registration form or the event is tried again later, which grants what is still owed, once.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  type Entitlement,
  GetEntitlementsCommand,
  MarketplaceEntitlementServiceClient,
} from '@aws-sdk/client-marketplace-entitlement-service';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { awsCalls, awsClientConfig, entitlementReads } from '#infra/definitions/timeouts.ts';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { queryAll } from '../dynamo/query.ts';
import { sleep, type TransactItem } from '../dynamo/transact.ts';
import { billingEvent } from '../events/outbox.ts';
import { newUlid, sha256Hex } from '../ids.ts';
import { applyCredit, BoundChangedError } from '../ledger/ledger.ts';
import { type Micros, toWire, ZERO } from '../money.ts';
import { logger, metrics } from '../observability/powertools.ts';
import type { BuyerIdentity } from './buyers.ts';
import { MarketplaceUnavailableError } from './errors.ts';

const CONTRACT = 'marketplace_contract';
const GRANT_PREFIX = 'MKT_GRANT#';

/** One licence's entitlement in one credit dimension until one contract end. */
export type ContractLine = {
  license_arn: string;
  /** The entitlement's expiration (ISO); null when it states none. */
  contract_end: string | null;
  dimension: string;
  units: number;
  usd_per_unit: Micros;
};

/** What a buyer's entitlements say now: the credit lines in force, and what was left out and why. */
export type EntitlementRead = {
  lines: ContractLine[];
  /** Entitlements in dimensions the configuration does not price: ignored (and alarmed). */
  unknown_dimensions: string[];
  /** The latest contract end among expired entitlements: shown when no contract is in force. */
  last_expired_end: string | null;
  read_at: string;
};

let client: MarketplaceEntitlementServiceClient | undefined;

/**
 * The Entitlement Service client. The service is served from us-east-1 only, whatever region the stack is
 * in; locally and in tests it is the emulator (MARKETPLACE_ENTITLEMENT_ENDPOINT, else the metering one).
 */
export function entitlementClient(): MarketplaceEntitlementServiceClient {
  if (!client) {
    const endpoint = config.marketplaceEntitlementEndpoint;
    const budget = awsClientConfig(awsCalls.marketplaceEntitlement);
    client = new MarketplaceEntitlementServiceClient(
      endpoint
        ? {
            ...budget,
            endpoint,
            region: 'us-east-1',
            credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          }
        : { ...budget, region: 'us-east-1' },
    );
  }
  return client;
}

export function resetEntitlementClient(): void {
  client?.destroy();
  client = undefined;
}

/** Errors worth another attempt: throttling, AWS's own faults, and calls that never got an answer. */
function retryable(error: unknown): boolean {
  const name = (error as { name?: string }).name ?? '';
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (name === 'ThrottlingException' || name === 'InternalServiceErrorException') return true;
  return status === undefined || status >= 500;
}

async function entitlementPage(productCode: string, accountId: string, nextToken: string | undefined) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await entitlementClient().send(
        new GetEntitlementsCommand({
          ProductCode: productCode,
          Filter: { CUSTOMER_AWS_ACCOUNT_ID: [accountId] },
          ...(nextToken ? { NextToken: nextToken } : {}),
        }),
      );
    } catch (error) {
      if (!retryable(error) || attempt >= entitlementReads.maxAttempts) {
        metrics.addMetric('MarketplaceEntitlementReadFailed', MetricUnit.Count, 1);
        throw new MarketplaceUnavailableError({ cause: error });
      }
      const ceiling = Math.min(entitlementReads.capMs, entitlementReads.baseMs * 2 ** attempt);
      await sleep(Math.random() * ceiling);
    }
  }
}

/** Every entitlement of the buyer, all pages. */
async function allEntitlements(identity: BuyerIdentity): Promise<Entitlement[]> {
  const productCode = identity.product_code ?? config.marketplaceProductCode;
  if (!productCode) {
    throw new Error('GetEntitlements needs the product code: set MARKETPLACE_PRODUCT_CODE');
  }
  const found: Entitlement[] = [];
  let nextToken: string | undefined;
  do {
    const page = await entitlementPage(productCode, identity.customer_aws_account_id, nextToken);
    found.push(...(page.Entitlements ?? []));
    nextToken = page.NextToken || undefined;
  } while (nextToken);
  return found;
}

/** The buyer's entitlements now, as credit lines (expired and unpriced ones left out). */
export async function readEntitlements(identity: BuyerIdentity): Promise<EntitlementRead> {
  const entitlements = await allEntitlements(identity);
  const readAt = nowIso();
  const priced = config.marketplaceCreditDimensions;
  const lines: ContractLine[] = [];
  const unknown = new Set<string>();
  let lastExpiredEnd: string | null = null;
  for (const entitlement of entitlements) {
    const dimension = entitlement.Dimension ?? '';
    const end = entitlement.ExpirationDate ? entitlement.ExpirationDate.toISOString() : null;
    if (end !== null && Date.parse(end) <= nowMs()) {
      if (lastExpiredEnd === null || end > lastExpiredEnd) lastExpiredEnd = end;
      continue;
    }
    const usdPerUnit = priced.get(dimension);
    const units = entitlement.Value?.IntegerValue;
    if (usdPerUnit === undefined || units === undefined || !Number.isInteger(units) || units < 0) {
      unknown.add(dimension);
      continue;
    }
    lines.push({
      license_arn: entitlement.LicenseArn ?? identity.license_arn,
      contract_end: end,
      dimension,
      units,
      usd_per_unit: usdPerUnit,
    });
  }
  if (unknown.size > 0) {
    metrics.addMetric('MarketplaceUnknownDimension', MetricUnit.Count, unknown.size);
    logger.warn('AWS Marketplace entitlements in dimensions MARKETPLACE_CREDIT_DIMENSIONS does not price', {
      customerAwsAccountId: identity.customer_aws_account_id,
      dimensions: [...unknown],
    });
  }
  return { lines, unknown_dimensions: [...unknown], last_expired_end: lastExpiredEnd, read_at: readAt };
}

/** Whether a buyer holds any entitlement at all (a contract buyer, for MARKETPLACE_PRODUCT_TYPE=auto). */
export function holdsEntitlements(read: EntitlementRead): boolean {
  return read.lines.length > 0 || read.unknown_dimensions.length > 0 || read.last_expired_end !== null;
}

/** A contract: its licence and end, short enough for a key and the same for every read of it. */
export function contractId(line: Pick<ContractLine, 'license_arn' | 'contract_end'>): string {
  return sha256Hex(`${line.license_arn}|${line.contract_end ?? 'open'}`).slice(0, 24);
}

const grantKey = (accountId: string, line: ContractLine) => ({
  PK: `ACCOUNT#${accountId}`,
  SK: `${GRANT_PREFIX}${contractId(line)}#${line.dimension}`,
});

/** A line's grant item: the units granted for it, and the latest units the entitlements said. */
export type GrantRecord = {
  license_arn: string;
  contract_end: string | null;
  dimension: string;
  granted_units: number;
  granted: Micros;
  entitled_units: number;
  usd_per_unit: Micros;
  updated_at: string;
  /** The entitlement went below what was granted: nothing was taken back. */
  downgraded_at?: string;
  downgraded_to?: number;
};

async function grantRecord(accountId: string, line: ContractLine): Promise<GrantRecord | undefined> {
  const result = await ddb().send(
    new GetCommand({ TableName: config.tableName, Key: grantKey(accountId, line), ConsistentRead: true }),
  );
  return result.Item as GrantRecord | undefined;
}

/** Raises the line's grant count from `before` to the line's units: the grant's guard, in its transaction. */
function raiseGrant(accountId: string, line: ContractLine, before: number, amount: Micros, at: string) {
  return {
    Update: {
      TableName: config.tableName,
      Key: grantKey(accountId, line),
      UpdateExpression:
        'SET kind = :kind, license_arn = :license, contract_end = :end, dimension = :dimension, granted_units = :units, entitled_units = :units, usd_per_unit = :usd, updated_at = :at ADD granted :amount',
      ConditionExpression: before === 0 ? 'attribute_not_exists(PK)' : 'granted_units = :before',
      ExpressionAttributeValues: {
        ':kind': 'marketplace_grant',
        ':license': line.license_arn,
        ':end': line.contract_end,
        ':dimension': line.dimension,
        ':units': line.units,
        ':usd': line.usd_per_unit,
        ':at': at,
        ':amount': amount,
        ...(before === 0 ? {} : { ':before': before }),
      },
    },
  } satisfies TransactItem;
}

export type LineOutcome =
  | { line: ContractLine; outcome: 'granted'; amount: Micros; entry_id: string }
  | { line: ContractLine; outcome: 'already_granted' }
  | { line: ContractLine; outcome: 'downgrade_recorded'; granted_units: number };

function reasonOf(line: ContractLine, before: number): string {
  const what = `${line.units} × ${line.dimension}`;
  const until = line.contract_end ? ` until ${line.contract_end.slice(0, 10)}` : '';
  return before === 0
    ? `AWS Marketplace contract: ${what}${until}`
    : `AWS Marketplace contract upgraded from ${before} to ${what}${until}`;
}

/** Grants what the line entitles beyond what was granted for it, once; records a downgrade. */
async function grantLine(accountId: string, line: ContractLine): Promise<LineOutcome> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const record = await grantRecord(accountId, line);
    const before = record?.granted_units ?? 0;
    if (line.units < before) return recordDowngrade(accountId, line, record!);
    if (line.units === before) {
      // Back up to what was granted after a downgrade: the record shows the entitlement again.
      if (record && record.entitled_units !== line.units) await noteEntitled(accountId, line);
      return { line, outcome: 'already_granted' };
    }
    const amount = ((line.units - before) * line.usd_per_unit) as Micros;
    const at = nowIso();
    const entryId = newUlid();
    const contract = contractId(line);
    try {
      const outcome = await applyCredit({
        accountId,
        entryId,
        type: 'grant',
        amount,
        at,
        reason: reasonOf(line, before),
        guard: { reference: `marketplace:${contract}:${line.dimension}:${line.units}` },
        bound: raiseGrant(accountId, line, before, amount, at),
        events: [
          billingEvent(
            'credits.granted',
            accountId,
            {
              amount: toWire(amount),
              reason: reasonOf(line, before),
              entry_id: entryId,
              marketplace: {
                license_arn: line.license_arn,
                contract_end: line.contract_end,
                dimension: line.dimension,
                units: line.units,
                units_before: before,
              },
            },
            at,
          ),
        ],
      });
      if (outcome.status === 'applied') {
        metrics.addMetric('MarketplaceContractCreditsGranted', MetricUnit.Count, 1);
        logger.info('AWS Marketplace contract credits granted', {
          accountId,
          dimension: line.dimension,
          units: line.units,
          before,
          amount: toWire(amount),
        });
        return { line, outcome: 'granted', amount, entry_id: entryId };
      }
      if (outcome.status === 'already_applied') return { line, outcome: 'already_granted' };
      throw new Error(`contract grant refused for ${accountId}: the account is gone`);
    } catch (error) {
      // Another grant of this line (a redelivered or concurrent event) moved the count: read it again.
      if (error instanceof BoundChangedError) continue;
      throw error;
    }
  }
  throw new Error(`contract grant for ${accountId} kept conflicting`);
}

async function noteEntitled(accountId: string, line: ContractLine): Promise<void> {
  await ddb().send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: grantKey(accountId, line),
      UpdateExpression: 'SET entitled_units = :units, updated_at = :at',
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeValues: { ':units': line.units, ':at': nowIso() },
    }),
  );
}

async function recordDowngrade(
  accountId: string,
  line: ContractLine,
  record: GrantRecord,
): Promise<LineOutcome> {
  const at = nowIso();
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: grantKey(accountId, line),
        UpdateExpression:
          'SET entitled_units = :units, downgraded_to = :units, downgraded_at = :at, updated_at = :at',
        // Recorded once per change: a redelivered event finds it recorded.
        ConditionExpression: 'attribute_exists(PK) AND entitled_units <> :units',
        ExpressionAttributeValues: { ':units': line.units, ':at': at },
      }),
    );
    metrics.addMetric('MarketplaceContractDowngrades', MetricUnit.Count, 1);
    logger.warn('AWS Marketplace contract downgraded: nothing taken back', {
      accountId,
      dimension: line.dimension,
      grantedUnits: record.granted_units,
      entitledUnits: line.units,
    });
  } catch (error) {
    if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
  }
  return { line, outcome: 'downgrade_recorded', granted_units: record.granted_units };
}

export type ContractSync = {
  account_id: string;
  lines: LineOutcome[];
  unknown_dimensions: string[];
  entitled: Micros;
  granted: Micros;
  contract_end: string | null;
};

/**
 * Grants the buyer's entitlements as read (`read`, or read now) and records the contract's summary on the
 * account (`marketplace_contract`, what GET /v1/credits shows). Safe to run any number of times, concurrently.
 */
export async function syncContract(
  accountId: string,
  identity: BuyerIdentity,
  read?: EntitlementRead,
): Promise<ContractSync> {
  const current = read ?? (await readEntitlements(identity));
  const lines: LineOutcome[] = [];
  for (const line of current.lines) lines.push(await grantLine(accountId, line));
  let entitled = ZERO as number;
  let granted = ZERO as number;
  let contractEnd: string | null = null;
  for (const line of current.lines) {
    entitled += line.units * line.usd_per_unit;
    granted += (await grantRecord(accountId, line))?.granted ?? 0;
    if (line.contract_end && (contractEnd === null || line.contract_end > contractEnd))
      contractEnd = line.contract_end;
  }
  if (current.lines.length === 0) contractEnd = current.last_expired_end;
  const summary = {
    entitled: entitled as Micros,
    granted: granted as Micros,
    contract_end: contractEnd,
    read_at: current.read_at,
  };
  await saveSummary(accountId, summary);
  return {
    account_id: accountId,
    lines,
    unknown_dimensions: current.unknown_dimensions,
    entitled: summary.entitled,
    granted: summary.granted,
    contract_end: contractEnd,
  };
}

/** The account's contract summary; a summary of an older read never replaces a newer one's. */
async function saveSummary(
  accountId: string,
  summary: { entitled: Micros; granted: Micros; contract_end: string | null; read_at: string },
): Promise<void> {
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.account(accountId),
        UpdateExpression: 'SET marketplace_contract = :summary',
        ConditionExpression:
          'billing_mode = :contract AND (attribute_not_exists(marketplace_contract) OR marketplace_contract.read_at <= :readAt)',
        ExpressionAttributeValues: { ':summary': summary, ':contract': CONTRACT, ':readAt': summary.read_at },
      }),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
  }
}

/** Every grant item of the account (the operator's view of a contract's history): bounded by its contracts. */
export async function grantRecords(accountId: string): Promise<GrantRecord[]> {
  const items = await queryAll({
    TableName: config.tableName,
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
    ExpressionAttributeValues: { ':pk': `ACCOUNT#${accountId}`, ':prefix': GRANT_PREFIX },
    ConsistentRead: true,
  });
  return items.map((item) => {
    const { PK: _pk, SK: _sk, kind: _kind, ...record } = item;
    return record as GrantRecord;
  });
}
