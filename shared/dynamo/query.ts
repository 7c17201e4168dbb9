// Paged reads: every page of a Query (or Scan), as one stream of items.
import {
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ddb } from './client.ts';

type Item = Record<string, unknown>;

/** Yields the items of every page of a Query, following LastEvaluatedKey. */
export async function* queryPages(input: QueryCommandInput): AsyncGenerator<Item[]> {
  let startKey: Item | undefined;
  do {
    const page = await ddb().send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
    yield page.Items ?? [];
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

export async function queryAll(input: QueryCommandInput): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of queryPages(input)) items.push(...page);
  return items;
}

/** Yields the items of every page of a Scan: for jobs only, never in a request path. */
export async function* scanPages(input: ScanCommandInput): AsyncGenerator<Item[]> {
  let startKey: Item | undefined;
  do {
    const page = await ddb().send(new ScanCommand({ ...input, ExclusiveStartKey: startKey }));
    yield page.Items ?? [];
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}
