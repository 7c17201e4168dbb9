// `node bench/charge-profile.ts`: where a charge's DynamoDB Local time goes. Not part of `npm run bench`.
//
// Times bare TransactWriteItems on one fresh in-memory DynamoDB Local, one call of each in turn so machine
// noise hits every variant alike: the bench's floor, and the prepaid charge's three items (account debit, ledger
// entry, usage day) with and without the refill headroom clause and with the account listed in GSI2 or not,
// on the table as deployed (GSI1 + GSI2), on one without GSI2 and on one without any index.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { floorAccount, floorTransaction, interleaved, localEnvironment } from './floor.ts';

const TABLE = 'credits-profile';
Object.assign(process.env, localEnvironment(TABLE));

const N = Number(process.env.PROFILE_N ?? 1000);
const COST = 2000;

const { startDynamoLocal } = await import('../local/dynamo-local.ts');
const { CreateTableCommand, DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
const { createDocumentClient } = await import('#shared/dynamo/client.ts');
const { PutCommand, TransactWriteCommand } = await import('@aws-sdk/lib-dynamodb');
const { usageUpdate } = await import('#shared/usage/aggregates.ts');
const { keyAttributes, tableSchema } = await import('#infra/definitions/table.ts');

const dynamo = await startDynamoLocal();
try {
  const raw = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const allTables = {
    gsi12: tableSchema.indexes,
    gsi1: tableSchema.indexes.filter((index) => index.name === 'GSI1'),
    none: [],
  } as const;
  const only = process.env.PROFILE_TABLES?.split(',');
  const tables = Object.fromEntries(
    Object.entries(allTables).filter(([name]) => !only || only.includes(name)),
  ) as Partial<typeof allTables>;
  for (const [suffix, indexes] of Object.entries(tables)) {
    const used = new Set(['PK', 'SK', ...indexes.flatMap((index) => [index.partitionKey, index.sortKey])]);
    await raw.send(
      new CreateTableCommand({
        TableName: `${TABLE}-${suffix}`,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: keyAttributes()
          .filter(({ name }) => used.has(name))
          .map(({ name, type }) => ({ AttributeName: name, AttributeType: type })),
        KeySchema: [
          { AttributeName: 'PK', KeyType: 'HASH' },
          { AttributeName: 'SK', KeyType: 'RANGE' },
        ],
        ...(indexes.length
          ? {
              GlobalSecondaryIndexes: indexes.map((index) => ({
                IndexName: index.name,
                KeySchema: [
                  { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
                  { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
                ],
                Projection: { ProjectionType: 'ALL' as const },
              })),
            }
          : {}),
      }),
    );
  }
  raw.destroy();
  const client = createDocumentClient(dynamo.endpoint);

  // An account item as createAccount and a grant leave it, and the floor's tiny one.
  const accountItem = (accountId: string, listed: boolean, headroomAttribute = true) => ({
    PK: `ACCOUNT#${accountId}`,
    SK: 'ACCOUNT',
    kind: 'account',
    account_id: accountId,
    name: 'Profile payer',
    billing_mode: 'prepaid',
    balance: 1e12,
    held: 0,
    available: 1e12,
    ...(headroomAttribute ? { refill_headroom: listed ? 1e12 - 5_000_000 : 1e12 } : {}),
    entry_count: 1,
    created_at: new Date().toISOString(),
    updated_at: new Date().toISOString(),
    ...(listed
      ? {
          GSI2PK: 'REFILL',
          auto_refill: { enabled: true, status: 'active', threshold: 5_000_000, amount: 10_000_000 },
        }
      : {}),
  });

  type Variant = { name: string; once: () => Promise<number> };
  const variants: Variant[] = [];
  const time = async (items: unknown[]) => {
    const command = new TransactWriteCommand({ TransactItems: items as never });
    const start = performance.now();
    await client.send(command);
    return performance.now() - start;
  };

  for (const suffix of Object.keys(tables)) {
    const table = `${TABLE}-${suffix}`;
    const floorPk = `BENCH#floor-${suffix}`;
    await client.send(new PutCommand({ TableName: table, Item: floorAccount(floorPk) }));
    variants.push({
      name: `${suffix}: floor`,
      once: () => time(floorTransaction(table, floorPk, COST).TransactItems ?? []),
    });

    type Shape = {
      headroom?: boolean;
      unlistedCondition?: boolean;
      items?: 2 | 3;
      returnOld?: boolean;
      usageToken?: boolean;
    };
    const charge = async (accountId: string, shape: Shape) => {
      const {
        headroom = true,
        unlistedCondition = false,
        items = 3,
        returnOld = true,
        usageToken = true,
      } = shape;
      const at = new Date().toISOString();
      const account = {
        Update: {
          TableName: table,
          Key: { PK: `ACCOUNT#${accountId}`, SK: 'ACCOUNT' },
          UpdateExpression: `SET balance = balance - :amount, held = held - :release, available = available + :delta, ${
            headroom ? 'refill_headroom = if_not_exists(refill_headroom, available) + :delta, ' : ''
          }updated_at = :at ADD entry_count :one`,
          ConditionExpression: `billing_mode = :prepaid AND available >= :need${
            unlistedCondition ? ' AND attribute_not_exists(GSI2PK)' : ''
          }`,
          ExpressionAttributeValues: {
            ':amount': COST,
            ':release': 0,
            ':delta': -COST,
            ':at': at,
            ':one': 1,
            ':prepaid': 'prepaid',
            ':need': COST,
          },
          ...(returnOld ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } : {}),
        },
      };
      const entryId = randomUUID();
      const ledger = {
        Put: {
          TableName: table,
          Item: {
            PK: `ACCOUNT#${accountId}`,
            SK: `LEDGER#${entryId}`,
            kind: 'ledger',
            entry_id: entryId,
            account_id: accountId,
            type: 'usage',
            amount: -COST,
            created_at: at,
            request_id: `req_${entryId}`,
            feature: 'echo',
            quantity: 1,
            token_id: 'tok_01KPROFILEPROFILEPROFILEPR',
          },
          ConditionExpression: 'attribute_not_exists(PK)',
          ...(returnOld ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } : {}),
        },
      };
      const tag = { feature: 'echo', tokenId: usageToken ? 'tok_01KPROFILEPROFILEPROFILEPR' : undefined };
      const usage = usageUpdate(accountId, tag, COST as never, at);
      (usage.Update as { TableName: string }).TableName = table;
      return time(items === 2 ? [account, ledger] : [account, ledger, usage]);
    };
    const account = async (listed: boolean, headroomAttribute = true) => {
      const accountId = `acct_${randomUUID()}`;
      await client.send(
        new PutCommand({ TableName: table, Item: accountItem(accountId, listed, headroomAttribute) }),
      );
      return accountId;
    };
    const shapes: [string, boolean, boolean, Shape][] = [
      ['unlisted, as now', false, true, {}],
      ['unlisted, no headroom clause', false, true, { headroom: false }],
      [
        'unlisted no attr, no clause, unlisted cond',
        false,
        false,
        { headroom: false, unlistedCondition: true },
      ],
      ['listed, as now', true, true, {}],
      ['unlisted, as now, no ALL_OLD', false, true, { returnOld: false }],
      ['unlisted, as now, usage without token', false, true, { usageToken: false }],
      ['unlisted, as now, 2 items', false, true, { items: 2 }],
    ];
    const only = process.env.PROFILE_SHAPES?.split(',').map(Number);
    for (const [index, [label, listed, attribute, shape]] of shapes.entries()) {
      if (only && !only.includes(index)) continue;
      const accountId = await account(listed, attribute);
      variants.push({ name: `${suffix}: ${label}`, once: () => charge(accountId, shape) });
    }
  }

  await interleaved(
    variants.map((variant) => [variant.name, variant.once]),
    N,
    `${Object.keys(tables)[0]}: floor`,
  );
  client.destroy();
} finally {
  await dynamo.stop();
}
