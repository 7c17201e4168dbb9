// Transactions with their outcomes translated: conflicts and throttles are retried here, condition failures
// come back as per-item reasons (with the current item, at no read cost) for the repository to interpret.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { transactionRetries } from '#infra/definitions/timeouts.ts';
import { TemporarilyUnavailableError } from '../errors.ts';
import { ddb } from './client.ts';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export type CancellationReason = {
  code: string;
  item: Record<string, unknown> | undefined;
  message?: string;
};

export type TransactOutcome = { committed: true } | { committed: false; reasons: CancellationReason[] };

const RETRYABLE_REASONS = new Set([
  'TransactionConflict',
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
]);
export const MAX_TRANSACTION_ATTEMPTS = transactionRetries.maxAttempts;

type RawReason = { Code?: string; Message?: string; Item?: Record<string, AttributeValue> };

function cancellationReasons(error: unknown): CancellationReason[] | undefined {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  const raw = (error as Error & { CancellationReasons?: RawReason[] }).CancellationReasons ?? [];
  return raw.map((reason) => ({
    code: reason.Code ?? 'None',
    item: reason.Item ? unmarshall(reason.Item) : undefined,
    ...(reason.Message ? { message: reason.Message } : {}),
  }));
}

function isRetryable(reasons: CancellationReason[]): boolean {
  const failed = reasons.filter((r) => r.code !== 'None');
  return failed.length > 0 && failed.every((r) => RETRYABLE_REASONS.has(r.code));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs one TransactWriteItems. Concurrent transactions on one hot account cancel each other with
 * `TransactionConflict`, and a partition past its write limit cancels them with `ThrottlingError`; those are
 * retried with full-jitter backoff, then answered as `TemporarilyUnavailableError` (a 503, never a refusal
 * about money). Every item's condition must make a retry safe (a request-keyed item written with
 * attribute_not_exists), which is why retrying is allowed.
 */
export async function transactWrite(items: TransactItem[]): Promise<TransactOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ddb().send(new TransactWriteCommand({ TransactItems: items }));
      return { committed: true };
    } catch (error) {
      const reasons = cancellationReasons(error);
      const conflict =
        (reasons && isRetryable(reasons)) ||
        (error instanceof Error && error.name === 'TransactionInProgressException');
      if (conflict && attempt < MAX_TRANSACTION_ATTEMPTS) {
        const { baseMs, capMs } = transactionRetries;
        await sleep(Math.random() * Math.min(capMs, baseMs * 2 ** attempt));
        continue;
      }
      if (reasons && !isRetryable(reasons)) return { committed: false, reasons };
      // Cancelled for throughput or conflicts on every attempt: nothing was written, nothing is known about
      // money. (A TransactionInProgressException is not that: the attempt it names may still commit.)
      if (reasons) throw new TemporarilyUnavailableError({ cause: error });
      throw error;
    }
  }
}

/** A single-item write whose condition did not hold (DynamoDB answers this instead of writing). */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/**
 * The item a failed condition returned (`ReturnValuesOnConditionCheckFailure: 'ALL_OLD'`): the document
 * client leaves it marshalled. `null` when `error` is not a condition failure.
 */
export function conditionFailedItem(error: unknown): Record<string, unknown> | undefined | null {
  if (!isConditionFailure(error)) return null;
  const item = (error as Error & { Item?: Record<string, AttributeValue> }).Item;
  return item ? unmarshall(item) : undefined;
}

/**
 * A conditional UpdateItem that answers the item either way: as written (`ALL_NEW`) when its condition held,
 * as it is (`ALL_OLD`, at no read cost) when it did not, or `undefined` when there is no item.
 */
export async function updateOrCurrent(
  input: UpdateCommandInput,
): Promise<
  | { written: true; item: Record<string, unknown> }
  | { written: false; item: Record<string, unknown> | undefined }
> {
  try {
    const result = await ddb().send(
      new UpdateCommand({
        ...input,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { written: true, item: result.Attributes ?? {} };
  } catch (error) {
    const current = conditionFailedItem(error);
    if (current === null) throw error;
    return { written: false, item: current };
  }
}

/** A conditional UpdateItem: true when it wrote, false when its condition did not hold. */
export async function updateIf(input: UpdateCommandInput): Promise<boolean> {
  try {
    await ddb().send(new UpdateCommand(input));
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

export function reasonAt(outcome: TransactOutcome, index: number): CancellationReason | undefined {
  return outcome.committed ? undefined : outcome.reasons[index];
}

export function failedCondition(outcome: TransactOutcome, index: number): boolean {
  return reasonAt(outcome, index)?.code === 'ConditionalCheckFailed';
}

/**
 * Reasons that are neither a failed condition nor "not the cause" (`None`): DynamoDB refused the write
 * itself (a `ValidationError`, e.g. an item over 400 KB). Such a cancellation says nothing about money.
 */
export function unexpectedReasons(outcome: TransactOutcome): string[] {
  if (outcome.committed) return [];
  return outcome.reasons
    .filter((reason) => reason.code !== 'None' && reason.code !== 'ConditionalCheckFailed')
    .map((reason) => (reason.message ? `${reason.code}: ${reason.message}` : reason.code));
}
