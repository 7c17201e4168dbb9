// Fault injection on the real DynamoDB client: let a command reach DynamoDB Local and commit, then lose
// the reply, as a network timeout after the write would.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient, setDocumentClient } from '#shared/dynamo/client.ts';

export type FaultPlan = { command: string; remaining: number; skip: number };

/** Installs a client that lets `skip` calls of `command` through, then loses `times` replies after commit. */
export function loseRepliesOf(
  command: string,
  times = 1,
  skip = 0,
): { client: DynamoDBDocumentClient; plan: FaultPlan } {
  const client = createDocumentClient(process.env.DYNAMODB_ENDPOINT);
  const plan: FaultPlan = { command, remaining: times, skip };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName !== plan.command) return result;
      if (plan.skip > 0) {
        plan.skip--;
        return result;
      }
      if (plan.remaining > 0) {
        plan.remaining--;
        throw Object.assign(new Error('socket hang up after the write committed'), { name: 'TimeoutError' });
      }
      return result;
    },
    { step: 'initialize', name: 'loseReply' },
  );
  setDocumentClient(client);
  return { client, plan };
}

export function restoreClient(): void {
  setDocumentClient(undefined);
}

/**
 * Installs a client on which the `command` calls after the first `skip` fail before reaching DynamoDB,
 * `times` times, as a crash of the invocation there would leave it: nothing written.
 */
export function failBeforeSending(command: string, times = 1, skip = 0): FaultPlan {
  const client = createDocumentClient(process.env.DYNAMODB_ENDPOINT);
  const plan: FaultPlan = { command, remaining: times, skip };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === plan.command) {
        if (plan.skip > 0) plan.skip--;
        else if (plan.remaining > 0) {
          plan.remaining--;
          throw Object.assign(new Error('invocation crashed before the write'), { name: 'CrashError' });
        }
      }
      return next(args);
    },
    { step: 'initialize', name: 'failBeforeSending' },
  );
  setDocumentClient(client);
  return plan;
}

/** Installs a client that counts the calls of each command it sends. */
export function countCommands(): Map<string, number> {
  const client = createDocumentClient(process.env.DYNAMODB_ENDPOINT);
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  setDocumentClient(client);
  return counts;
}

/** One item of a captured transaction: what it does, and to which item (its sort key). */
export type CapturedAction = { action: 'Put' | 'Update' | 'ConditionCheck' | 'Delete'; sk: string };

/** The sort key as sent: plain, or marshalled (`{ S: … }`) when the document client already converted it. */
function sortKeyOf(value: unknown): string {
  return typeof value === 'object' && value !== null ? String((value as { S?: string }).S) : String(value);
}

/** Installs a client that records the items of every TransactWriteItems it sends (committed or not). */
export function captureTransactions(): CapturedAction[][] {
  const client = createDocumentClient(process.env.DYNAMODB_ENDPOINT);
  const transactions: CapturedAction[][] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'TransactWriteItemsCommand') {
        const items = (args.input as { TransactItems?: Record<string, Record<string, unknown>>[] })
          .TransactItems;
        transactions.push(
          (items ?? []).map((item) => {
            const [action, write] = Object.entries(item)[0] as [
              CapturedAction['action'],
              Record<string, unknown>,
            ];
            const key = (write.Key ?? write.Item) as Record<string, unknown>;
            return { action, sk: sortKeyOf(key.SK) };
          }),
        );
      }
      return next(args);
    },
    { step: 'initialize', name: 'captureTransactions' },
  );
  setDocumentClient(client);
  return transactions;
}
