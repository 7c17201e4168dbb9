// Conflicts and throttles that DynamoDB Local never produces, injected into the transaction path.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { setDocumentClient } from '#shared/dynamo/client.ts';
import { MAX_TRANSACTION_ATTEMPTS, transactWrite } from '#shared/dynamo/transact.ts';
import { errorResponse, TemporarilyUnavailableError } from '#shared/errors.ts';

function cancelled(...codes: string[]) {
  return Object.assign(new Error('Transaction cancelled'), {
    name: 'TransactionCanceledException',
    CancellationReasons: codes.map((Code) =>
      Code === 'ConditionalCheckFailed' ? { Code, Item: { balance: { N: '5' } } } : { Code },
    ),
  });
}

/** A client whose first answers are the given errors, then success; it counts the calls. */
function scriptedClient(failures: Error[]) {
  let calls = 0;
  const client = {
    send: async () => {
      const failure = failures[calls++];
      if (failure) throw failure;
      return {};
    },
  };
  return { client: client as unknown as DynamoDBDocumentClient, calls: () => calls };
}

const item = { Put: { TableName: 't', Item: { PK: 'a', SK: 'b' } } };

afterEach(() => setDocumentClient(undefined));

describe('transactWrite', () => {
  it('retries transaction conflicts until the transaction commits', async () => {
    const scripted = scriptedClient([
      cancelled('None', 'TransactionConflict'),
      cancelled('TransactionConflict'),
    ]);
    setDocumentClient(scripted.client);
    await expect(transactWrite([item])).resolves.toEqual({ committed: true });
    expect(scripted.calls()).toBe(3);
  });

  it('retries throttling reasons too', async () => {
    const scripted = scriptedClient([cancelled('ThrottlingError')]);
    setDocumentClient(scripted.client);
    await expect(transactWrite([item])).resolves.toEqual({ committed: true });
    expect(scripted.calls()).toBe(2);
  });

  it.each(['TransactionConflict', 'ThrottlingError'])(
    'gives up on %s after the attempt limit: temporarily unavailable (a 503), with the cancellation as its cause',
    async (code) => {
      const scripted = scriptedClient(Array.from({ length: 20 }, () => cancelled('None', code)));
      setDocumentClient(scripted.client);
      const error = await transactWrite([item, item]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TemporarilyUnavailableError);
      expect((error as Error).cause).toMatchObject({ name: 'TransactionCanceledException' });
      expect(errorResponse(error)).toMatchObject({
        status: 503,
        body: { code: 'temporarily_unavailable' },
        headers: { 'retry-after': '1' },
      });
      expect(scripted.calls()).toBe(MAX_TRANSACTION_ATTEMPTS);
    },
  );

  it('does not retry a failed condition, and returns the current item unmarshalled', async () => {
    const scripted = scriptedClient([cancelled('ConditionalCheckFailed', 'None')]);
    setDocumentClient(scripted.client);
    const outcome = await transactWrite([item, item]);
    expect(outcome).toEqual({
      committed: false,
      reasons: [
        { code: 'ConditionalCheckFailed', item: { balance: 5 } },
        { code: 'None', item: undefined },
      ],
    });
    expect(scripted.calls()).toBe(1);
  });

  it('does not retry a condition failure mixed with a conflict', async () => {
    const scripted = scriptedClient([cancelled('ConditionalCheckFailed', 'TransactionConflict')]);
    setDocumentClient(scripted.client);
    const outcome = await transactWrite([item, item]);
    expect(outcome.committed).toBe(false);
    expect(scripted.calls()).toBe(1);
  });

  it('passes other errors through untouched', async () => {
    const scripted = scriptedClient([Object.assign(new Error('boom'), { name: 'InternalServerError' })]);
    setDocumentClient(scripted.client);
    await expect(transactWrite([item])).rejects.toThrow('boom');
  });
});
