// `node bench/handler-profile.ts`: a charge's time split between DynamoDB Local and the handler stack. Not part
// of `npm run bench`. On one fresh DynamoDB Local with the deployed schema, one call of each in turn (so
// machine noise hits all alike): the bench's floor; POST /v1/demo/echo and a service-key POST
// /v1/meter/charges through the real handlers; and the exact TransactWriteItems each of them sends (captured
// from the wire, replayed with fresh ids), which is the charge without the handler stack.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Context } from 'aws-lambda';
import type { ApiEvent, ApiResult } from '#shared/http/api.ts';
import { floorAccount, floorTransaction, interleaved, localEnvironment } from './floor.ts';

const TABLE = 'credits-hprofile';
Object.assign(process.env, localEnvironment(TABLE));
(globalThis as { __localEvents?: unknown[] }).__localEvents = [];
const N = Number(process.env.PROFILE_N ?? 1000);

const { createTable, startDynamoLocal } = await import('../local/dynamo-local.ts');
const dynamo = await startDynamoLocal();
process.env.DYNAMODB_ENDPOINT = dynamo.endpoint;
try {
  await createTable(dynamo.endpoint, TABLE);
  const { createDocumentClient, setDocumentClient } = await import('#shared/dynamo/client.ts');
  const { PutCommand, TransactWriteCommand } = await import('@aws-sdk/lib-dynamodb');
  const { TransactWriteItemsCommand } = await import('@aws-sdk/client-dynamodb');
  const { apiEvent, lambdaContext } = await import('../test/support/api.ts');
  const { fundedAccount } = await import('../test/support/accounts.ts');
  type Handler = (event: ApiEvent, context: Context) => Promise<ApiResult>;
  const echo = (await import('#functions/demo/echo.ts')).handler as unknown as Handler;
  const meter = (await import('#functions/meter/meter.ts')).handler as unknown as Handler;
  const { createServiceKey } = await import('#shared/service-keys/service.ts');
  const client = createDocumentClient(dynamo.endpoint);
  let captured: string | undefined;
  let capture = false;
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = (args as { request: { body?: string; headers: Record<string, string> } }).request;
      if (capture && request.headers['x-amz-target']?.endsWith('TransactWriteItems'))
        captured =
          typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body as never);
      return next(args);
    },
    { step: 'finalizeRequest', name: 'capture', priority: 'low' },
  );
  setDocumentClient(client);

  const floorPk = 'BENCH#floor';
  await client.send(new PutCommand({ TableName: TABLE, Item: floorAccount(floorPk) }));
  const timed = async (run: () => Promise<unknown>) => {
    const start = performance.now();
    await run();
    return performance.now() - start;
  };
  const floor = () =>
    timed(() => client.send(new TransactWriteCommand(floorTransaction(TABLE, floorPk, 2000))));
  const payer = await fundedAccount(100, 'payer');
  const echoOnce = () =>
    timed(async () => {
      const r = await echo(
        apiEvent('POST', '/v1/demo/echo', { token: payer.token, body: { text: 'hello' } }),
        lambdaContext(),
      );
      if (r.statusCode !== 200) throw new Error(r.body);
    });
  const meterPayer = await fundedAccount(100, 'meter payer');
  const { key } = await createServiceKey('profile');
  const meterOnce = () =>
    timed(async () => {
      const r = await meter(
        apiEvent('POST', '/v1/meter/charges', {
          token: key,
          body: { account_id: meterPayer.accountId, feature: 'echo' },
          headers: { 'idempotency-key': randomUUID() },
        }),
        lambdaContext(),
      );
      if (r.statusCode !== 201) throw new Error(r.body);
    });
  for (let i = 0; i < 100; i++) {
    await floor();
    await echoOnce();
    await meterOnce();
  }
  // The exact transactions the handlers send, replayed with fresh ids.
  const replayOf = async (once: () => Promise<unknown>, label: string) => {
    capture = true;
    await once();
    capture = false;
    const { ClientRequestToken: _token, ...input } = JSON.parse(captured!);
    const body = JSON.stringify(input);
    console.log(`${label} transaction (${body.length} bytes):\n${body}\n`);
    const ids = [...new Set(body.match(/LEDGER#01[0-9A-HJKMNP-TV-Z]{24}|KEY#[0-9a-f]{64}/g) ?? [])];
    return () =>
      timed(() => {
        let text = body;
        for (const id of ids) text = text.split(id).join(`${id.split('#')[0]}#${randomUUID()}`);
        return client.send(new TransactWriteItemsCommand(JSON.parse(text)));
      });
  };
  const echoReplay = await replayOf(echoOnce, 'echo');
  const meterReplay = await replayOf(meterOnce, 'meter');
  const variants: [string, () => Promise<number>][] = [
    ['floor', floor],
    ['echo handler', echoOnce],
    ['echo tx replay', echoReplay],
    ['meter handler', meterOnce],
    ['meter tx replay', meterReplay],
  ];
  await interleaved(variants, N, 'floor');
  client.destroy();
} finally {
  await dynamo.stop();
}
