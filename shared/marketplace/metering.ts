// The hourly metering job: every buyer-hour is claimed once (units fixed, carry consumed in the same
// write), only once the rollup consumer has rolled in every accrued entry of the buyer
// (shared/usage/watermark.ts), sent with the hour's fixed timestamp in BatchMeterUsage calls of at most 25 records, and marked
// with what AWS answered. A run that crashes leaves claimed hours whose lease runs out; the next run sends
// exactly the same records again, which AWS answers with the same MeteringRecordId (billed once).
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  BatchMeterUsageCommand,
  type BatchMeterUsageCommandOutput,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import { nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { sleep } from '../dynamo/transact.ts';
import { newUlid } from '../ids.ts';
import { logger, metrics } from '../observability/powertools.ts';
import { type RollupGate, rollupGate } from '../usage/watermark.ts';
import { advanceZeroThrough, type Buyer, buyersToMeter, getBuyer, retireBuyer } from './buyers.ts';
import { meteringClient } from './client.ts';
import {
  claimHour,
  ensureHour,
  getCarry,
  getHour,
  type HourRecord,
  hoursOfAccount,
  markRejected,
  markReported,
  type RecordIdentity,
  rollOverHour,
  takeOverHour,
  unreportedHours,
} from './hour-store.ts';
import { HOUR_MS, hourKey, hourMs, hoursBetween, sendable, windowClosesAt, windowMs } from './hours.ts';
import { toUnits } from './units.ts';

export const MAX_BATCH_RECORDS = 25;
/** Longer than the job's timeout: a live run never loses its claims to another one. */
export const DEFAULT_LEASE_MS = 15 * 60_000;
const RETRYABLE_CALL_ERRORS = new Set([
  'ThrottlingException',
  'InternalServiceErrorException',
  'TimeoutError',
  'RequestTimeout',
  'ECONNRESET',
  'ECONNREFUSED',
]);

export type MeteringOptions = {
  /** Compute and answer what would be sent; claim, create and send nothing. */
  dryRun?: boolean;
  /** Only this buyer, including its last hour when the subscription ended (the flush after cancellation). */
  accountId?: string;
  leaseMs?: number;
  /** Base of the full-jitter backoff between retries of throttled calls and unprocessed records. */
  backoffMs?: number;
  maxSendAttempts?: number;
  /** Fault injection for tests: runs after BatchMeterUsage answered, before any hour is marked. */
  afterSend?: () => void | Promise<void>;
  /** The gate on the rollups; by default the run's own, waiting up to 5 s for a buyer's newest entries. */
  gate?: RollupGate;
};

export type RecordOutcome = {
  account_id: string;
  hour: string;
  dimension: string;
  units: number;
  status: string;
  metering_record_id?: string;
};

export type MeteringSummary = {
  dry_run: boolean;
  at: string;
  /** Hours sent and accepted by AWS in this run. */
  reported: { records: number; units: number };
  rejected: { records: number; units: number };
  /** Hours past the window before any run reached them: their cost moved into the next hour. */
  rolled_over: { hours: number; micros: number };
  /** Hour records made sure to exist for idle buyers (zero hours). */
  hours_ensured: number;
  /** Claimed by a run whose lease has not run out yet. */
  skipped_claimed: number;
  /** Buyers whose hours were left for the next run: the rollups had not caught up with their ledger. */
  awaiting_rollups: number;
  /** Claimed but not accepted after every retry (throttled or unprocessed): the next run sends them. */
  unsent: number;
  records: RecordOutcome[];
  /** Dry run: the records that would be sent. */
  planned?: RecordOutcome[];
  oldest_unreported_hour: string | null;
  oldest_unreported_age_seconds: number;
  /** Seconds until the most urgent unreported hour leaves AWS's window (month end makes it short). */
  window_margin_seconds: number | null;
};

type Sendable = { record: HourRecord; units: number; identity: RecordIdentity };

const MAX_LISTED = 200;

function identityFor(buyer: Buyer): RecordIdentity {
  const productCode = config.marketplaceProductCode ?? buyer.marketplace.product_code;
  const identifier = buyer.marketplace.customer_identifier;
  if (config.marketplaceIdentity === 'product_code' && identifier && productCode) {
    return { style: 'customer_identifier', customer_identifier: identifier, product_code: productCode };
  }
  return {
    style: 'license',
    customer_aws_account_id: buyer.marketplace.customer_aws_account_id,
    license_arn: buyer.marketplace.license_arn,
  };
}

function usageRecord(item: Sendable): UsageRecord {
  const base = {
    Timestamp: new Date(hourMs(item.record.hour)),
    Dimension: item.record.dimension,
    Quantity: item.units,
  };
  return item.identity.style === 'license'
    ? {
        ...base,
        CustomerAWSAccountId: item.identity.customer_aws_account_id,
        LicenseArn: item.identity.license_arn,
      }
    : { ...base, CustomerIdentifier: item.identity.customer_identifier };
}

const recordKey = (r: UsageRecord) =>
  `${r.CustomerAWSAccountId ?? r.CustomerIdentifier}|${r.Dimension}|${r.Timestamp?.getTime()}`;

/** The earliest hour that can still be sent at `atMs`. */
function oldestSendableHour(atMs: number): string {
  for (let at = atMs - windowMs(); ; at += HOUR_MS) {
    const hour = hourKey(at);
    if (sendable(hour, atMs)) return hour;
  }
}

const later = (a: string, b: string) => (a > b ? a : b);
const earlier = (a: string, b: string) => (a < b ? a : b);

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(runners);
}

export async function runMetering(options: MeteringOptions = {}): Promise<MeteringSummary> {
  const dryRun = options.dryRun ?? config.marketplaceDryRun;
  const startMs = nowMs();
  const at = new Date(startMs).toISOString();
  const currentHour = hourKey(startMs);
  const previousHour = hourKey(startMs - HOUR_MS);
  const dimension = config.marketplaceDimension;
  const unitPrice = config.marketplaceUnitPriceMicros;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const summary: MeteringSummary = {
    dry_run: dryRun,
    at,
    reported: { records: 0, units: 0 },
    rejected: { records: 0, units: 0 },
    rolled_over: { hours: 0, micros: 0 },
    hours_ensured: 0,
    skipped_claimed: 0,
    awaiting_rollups: 0,
    unsent: 0,
    records: [],
    ...(dryRun ? { planned: [] } : {}),
    oldest_unreported_hour: null,
    oldest_unreported_age_seconds: 0,
    window_margin_seconds: null,
  };
  const list = (outcome: RecordOutcome, into: RecordOutcome[] = summary.records) => {
    if (into.length < MAX_LISTED) into.push(outcome);
  };

  // 1. Every buyer gets a record for every hour (zero when idle), up to its last hour once it has ended.
  const buyers = options.accountId
    ? [await getBuyer(options.accountId)].filter((b): b is Buyer => b !== undefined)
    : await buyersToMeter();
  const buyerOf = new Map(buyers.map((buyer) => [buyer.account_id, buyer]));
  /** Ended buyers whose last hour is the current one: it is closed for them, so it is sent now. */
  const openLastHours: string[] = [];
  const oldest = oldestSendableHour(startMs);
  await pool(buyers, 8, async (buyer) => {
    const lastHour = buyer.ends_at ? earlier(hourKey(Date.parse(buyer.ends_at)), currentHour) : previousHour;
    if (buyer.ends_at && startMs >= windowClosesAt(hourKey(Date.parse(buyer.ends_at)))) {
      if (!dryRun) await retireBuyer(buyer.account_id, buyer.ends_at);
      return;
    }
    let firstHour = later(hourKey(Date.parse(buyer.registered_at)), oldest);
    if (buyer.zero_through) firstHour = later(firstHour, hourKey(hourMs(buyer.zero_through) + HOUR_MS));
    if (buyer.ends_at && lastHour === currentHour) openLastHours.push(buyer.account_id);
    if (firstHour > lastHour) return;
    const hours = hoursBetween(firstHour, lastHour);
    if (dryRun) {
      summary.hours_ensured += hours.length;
      return;
    }
    for (const hour of hours) {
      await ensureHour(buyer.account_id, hour, dimension);
      summary.hours_ensured++;
    }
    await advanceZeroThrough(buyer.account_id, lastHour);
  });

  // 2. The hours to report: closed hours still in the pending index, and ended buyers' last open hours.
  let candidates: HourRecord[];
  if (options.accountId) {
    const buyer = buyerOf.get(options.accountId);
    const lastHour = buyer?.ends_at ? earlier(hourKey(Date.parse(buyer.ends_at)), currentHour) : previousHour;
    candidates = await hoursOfAccount(options.accountId, hourKey(startMs - 48 * HOUR_MS), lastHour);
  } else {
    candidates = await unreportedHours(currentHour);
    for (const accountId of openLastHours)
      candidates.push(...(await hoursOfAccount(accountId, currentHour, currentHour)));
  }
  candidates = candidates.filter((c) => c.state === 'pending' || c.state === 'claimed');

  // 3. Claim, per buyer and dimension in hour order (each claim consumes the carry the previous one left).
  const groups = new Map<string, HourRecord[]>();
  for (const candidate of candidates) {
    const key = `${candidate.account_id}|${candidate.dimension}`;
    const group = groups.get(key) ?? [];
    group.push(candidate);
    groups.set(key, group);
  }
  const toSend: Sendable[] = [];
  const gate = options.gate ?? rollupGate();
  await pool([...groups.values()], 8, async (group) => {
    group.sort((a, b) => a.hour.localeCompare(b.hour));
    const accountId = group[0]!.account_id;
    let buyer = buyerOf.get(accountId);
    if (!buyer) {
      buyer = await getBuyer(accountId);
      if (!buyer) {
        logger.error('marketplace hour without a buyer registration', { accountId });
        return;
      }
      buyerOf.set(accountId, buyer);
    }
    // Every hour of the buyer waits until the rollups hold every entry it had when looked at; its hours are
    // read after that. Pending hours stay in the index (and in the oldest-unreported alarm) until then.
    const rollups = await gate.check(accountId);
    if (!rollups.caughtUp) {
      summary.awaiting_rollups++;
      logger.warn("rollups lag the ledger: the buyer's hours are left for the next run", {
        accountId,
        entriesBehind: rollups.behind,
      });
      return;
    }
    let simulatedCarry: number | undefined;
    for (const seen of group) {
      const claimed = await claimOne(seen, buyer);
      if (claimed === 'stop') return;
    }

    async function claimOne(seen: HourRecord, owner: Buyer): Promise<'ok' | 'stop'> {
      for (let attempt = 0; attempt < 3; attempt++) {
        const record = await getHour(seen.account_id, seen.hour, seen.dimension);
        if (!record) return 'ok';
        const nowAt = nowMs();
        if (record.state === 'pending') {
          const carry = await getCarry(record.account_id, record.dimension);
          if (!sendable(record.hour, nowAt)) {
            if (dryRun || (await rollOverHour(record, carry, new Date(nowAt).toISOString()))) {
              summary.rolled_over.hours++;
              summary.rolled_over.micros += record.cost;
              logger.warn('marketplace hour past the window: its cost moves to the next hour', {
                accountId: record.account_id,
                hour: record.hour,
                cost: record.cost,
              });
              if (dryRun) simulatedCarry = (simulatedCarry ?? carry.carry) + record.cost;
              return 'ok';
            }
            continue;
          }
          const carryIn = dryRun ? (simulatedCarry ?? carry.carry) : carry.carry;
          const { units, carryOut } = toUnits(record.cost, carryIn, unitPrice);
          const identity = identityFor(owner);
          if (dryRun) {
            simulatedCarry = carryOut;
            list(
              {
                account_id: record.account_id,
                hour: record.hour,
                dimension: record.dimension,
                units,
                status: 'planned',
              },
              summary.planned,
            );
            return 'ok';
          }
          const claimAt = new Date(nowAt).toISOString();
          const ok = await claimHour(record, carry, {
            units,
            carryIn,
            carryOut,
            unitPrice,
            identity,
            claimId: newUlid(),
            leaseUntil: new Date(nowAt + leaseMs).toISOString(),
            at: claimAt,
          });
          if (ok) {
            toSend.push({ record: { ...record, state: 'claimed' }, units, identity });
            return 'ok';
          }
          continue;
        }
        if (record.state === 'claimed') {
          if (record.lease_until && record.lease_until >= new Date(nowAt).toISOString()) {
            summary.skipped_claimed++;
            return 'ok';
          }
          if (dryRun) {
            list(
              {
                account_id: record.account_id,
                hour: record.hour,
                dimension: record.dimension,
                units: record.units ?? 0,
                status: 'planned_resend',
              },
              summary.planned,
            );
            return 'ok';
          }
          if (!sendable(record.hour, nowAt)) {
            // Its earlier send may or may not have reached AWS: flag it, never guess.
            if (
              await markRejected(
                record,
                'NotSent',
                'window closed while claimed',
                new Date(nowAt).toISOString(),
              )
            ) {
              rejected(record, record.units ?? 0, 'NotSent');
            }
            return 'ok';
          }
          const ok = await takeOverHour(
            record,
            newUlid(),
            new Date(nowAt + leaseMs).toISOString(),
            new Date(nowAt).toISOString(),
          );
          if (ok && record.identity && record.units !== undefined) {
            toSend.push({ record, units: record.units, identity: record.identity });
          }
          return 'ok';
        }
        return 'ok';
      }
      // The hour kept changing under us (a late charge, a racing run): keep the buyer's order, stop here.
      return 'stop';
    }
  });

  function rejected(record: HourRecord, units: number, status: string) {
    summary.rejected.records++;
    summary.rejected.units += units;
    list({ account_id: record.account_id, hour: record.hour, dimension: record.dimension, units, status });
    logger.error('marketplace usage record rejected', {
      accountId: record.account_id,
      hour: record.hour,
      units,
      status,
    });
  }

  // 4. Send: one product (or the licence style) per call, 25 records a call. The hours that leave the
  // window soonest go first, so a run cut short by throttling or its timeout loses the least.
  const closesAt = (item: Sendable) => windowClosesAt(item.record.hour);
  toSend.sort((a, b) => closesAt(a) - closesAt(b) || a.record.hour.localeCompare(b.record.hour));
  const calls = new Map<string, Sendable[]>();
  for (const item of toSend) {
    const key = item.identity.style === 'license' ? 'license' : `product:${item.identity.product_code}`;
    const call = calls.get(key) ?? [];
    call.push(item);
    calls.set(key, call);
  }
  const batches: { items: Sendable[]; productCode: string | undefined }[] = [];
  for (const [key, items] of calls) {
    const productCode = key.startsWith('product:') ? key.slice('product:'.length) : undefined;
    for (let i = 0; i < items.length; i += MAX_BATCH_RECORDS) {
      batches.push({ items: items.slice(i, i + MAX_BATCH_RECORDS), productCode });
    }
  }
  // Each batch is in window order; across products, the batch holding the most urgent hour goes first.
  batches.sort((a, b) => closesAt(a.items[0]!) - closesAt(b.items[0]!));
  for (const batch of batches) summary.unsent += await sendBatch(batch.items, batch.productCode);

  async function sendBatch(batch: Sendable[], productCode: string | undefined): Promise<number> {
    let remaining = batch;
    const attempts = options.maxSendAttempts ?? 6;
    const backoff = options.backoffMs ?? 200;
    for (let attempt = 1; attempt <= attempts && remaining.length > 0; attempt++) {
      if (attempt > 1) await sleep(Math.random() * Math.min(5_000, backoff * 2 ** (attempt - 1)));
      let answer: BatchMeterUsageCommandOutput;
      try {
        answer = await meteringClient().send(
          new BatchMeterUsageCommand({
            ...(productCode ? { ProductCode: productCode } : {}),
            UsageRecords: remaining.map(usageRecord),
          }),
        );
      } catch (error) {
        const name = (error as { name?: string; code?: string }).name ?? '';
        const code = (error as { code?: string }).code ?? '';
        if (RETRYABLE_CALL_ERRORS.has(name) || RETRYABLE_CALL_ERRORS.has(code)) continue;
        // The batch stays claimed: the next run re-checks the window and sends it again.
        logger.error('BatchMeterUsage refused the whole batch', { error, records: remaining.length });
        metrics.addMetric('MarketplaceBatchesRefused', MetricUnit.Count, 1);
        return remaining.length;
      }
      await options.afterSend?.();
      const byKey = new Map(remaining.map((item) => [recordKey(usageRecord(item)), item]));
      const markAt = new Date(nowMs()).toISOString();
      for (const result of answer.Results ?? []) {
        const item = result.UsageRecord ? byKey.get(recordKey(result.UsageRecord)) : undefined;
        if (!item) continue;
        byKey.delete(recordKey(result.UsageRecord!));
        const { record, units } = item;
        if (result.Status === 'Success' && result.MeteringRecordId) {
          if (await markReported(record, result.MeteringRecordId, markAt)) {
            summary.reported.records++;
            summary.reported.units += units;
          }
          list({
            account_id: record.account_id,
            hour: record.hour,
            dimension: record.dimension,
            units,
            status: 'Success',
            metering_record_id: result.MeteringRecordId,
          });
        } else {
          const status = result.Status ?? 'Unknown';
          if (await markRejected(record, status, `BatchMeterUsage answered ${status}`, markAt)) {
            rejected(record, units, status);
          }
        }
      }
      // UnprocessedRecords are sent again as they are; so is anything missing from both lists (never assume
      // a record was billed without its result).
      remaining = [...byKey.values()];
    }
    if (remaining.length) {
      logger.warn('marketplace records left for the next run', { records: remaining.length });
    }
    return remaining.length;
  }

  // 5. What is still unreported, for the alarms (the whole index: this also covers a single-buyer flush).
  if (!options.accountId) {
    const afterMs = nowMs();
    const left = (await unreportedHours(currentHour)).filter(
      (h) => h.state === 'pending' || h.state === 'claimed',
    );
    if (left.length) {
      const oldestLeft = left.reduce((a, b) => (a.hour < b.hour ? a : b));
      summary.oldest_unreported_hour = oldestLeft.hour;
      summary.oldest_unreported_age_seconds = Math.round(
        (afterMs - hourMs(oldestLeft.hour) - HOUR_MS) / 1000,
      );
      summary.window_margin_seconds = Math.round(
        Math.min(...left.map((h) => windowClosesAt(h.hour) - afterMs)) / 1000,
      );
    }
  }

  if (!dryRun) {
    metrics.addMetric('MarketplaceUnitsReported', MetricUnit.Count, summary.reported.units);
    metrics.addMetric('MarketplaceRecordsReported', MetricUnit.Count, summary.reported.records);
    metrics.addMetric('MarketplaceRecordsRejected', MetricUnit.Count, summary.rejected.records);
    metrics.addMetric('MarketplaceHoursRolledOver', MetricUnit.Count, summary.rolled_over.hours);
    metrics.addMetric('MarketplaceRecordsUnsent', MetricUnit.Count, summary.unsent);
    metrics.addMetric('MarketplaceBuyersAwaitingRollups', MetricUnit.Count, summary.awaiting_rollups);
    if (!options.accountId) {
      metrics.addMetric(
        'MarketplaceOldestUnreportedHourAge',
        MetricUnit.Seconds,
        summary.oldest_unreported_age_seconds,
      );
      if (summary.window_margin_seconds !== null) {
        metrics.addMetric(
          'MarketplaceUnreportedWindowMargin',
          MetricUnit.Seconds,
          summary.window_margin_seconds,
        );
      }
    }
  }
  return summary;
}
