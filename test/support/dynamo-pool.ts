// DynamoDB Local instances for a test run, lent to test files one at a time and retired after a few files.
//
// Why not one instance for the run: DynamoDB Local keeps every stream record of every table for 24 hours in
// one SQLite store and, on each write to a table with a stream, looks up the shard with a query whose cost
// grows with the records stored (seen with jstack: the SQLite thread busy in getStreamDescription). Shared by
// a whole run, writes slowed tenfold by the end (the marketplace metering file: 19 s alone, 201 s late in the
// run). Why not one per file: starting Java and warming DynamoDB Local up costs seconds of CPU a file, about
// a third of the run on two cores. So the run's global setup (test/support/global-setup.ts) keeps a small
// pool: a file leases an instance (its own table on it, test/support/setup-env.ts), gives it back when it
// ends, and an instance is stopped once it has served `filesPerInstance` files or been leased for
// `leasedMsPerInstance` in all (a long file writes many stream records: the next file should not inherit
// them); one spare is started ahead.
import { createServer, type Server } from 'node:http';
import { type DynamoLocal, startDynamoLocal } from '../../local/dynamo-local.ts';

type Instance = {
  id: number;
  ready: Promise<DynamoLocal>;
  uses: number;
  leased: boolean;
  leasedSince: number;
  leasedMs: number;
};

export type DynamoPool = { url: string; close: () => Promise<void> };

export type DynamoPoolLimits = { filesPerInstance: number; leasedMsPerInstance: number };

export async function startDynamoPool({
  filesPerInstance,
  leasedMsPerInstance,
}: DynamoPoolLimits): Promise<DynamoPool> {
  const instances = new Map<number, Instance>();
  let nextId = 1;
  const start = (): Instance => {
    const instance: Instance = {
      id: nextId++,
      ready: startDynamoLocal(),
      uses: 0,
      leased: false,
      leasedSince: 0,
      leasedMs: 0,
    };
    instances.set(instance.id, instance);
    // A failed start is reported to the file that leases it; the pool forgets it so the next lease retries.
    instance.ready.catch(() => instances.delete(instance.id));
    return instance;
  };
  const idle = () =>
    [...instances.values()].find((instance) => !instance.leased && instance.uses < filesPerInstance);
  const retire = (instance: Instance) => {
    instances.delete(instance.id);
    void instance.ready.then((dynamo) => dynamo.stop()).catch(() => {});
  };

  const lease = async (): Promise<{ id: number; endpoint: string }> => {
    const instance = idle() ?? start();
    instance.leased = true;
    instance.leasedSince = Date.now();
    // One spare warming up while this file runs, so the next file does not wait for Java.
    if (!idle()) start();
    const dynamo = await instance.ready;
    return { id: instance.id, endpoint: dynamo.endpoint };
  };
  const release = (id: number) => {
    const instance = instances.get(id);
    if (!instance) return;
    instance.leased = false;
    instance.uses += 1;
    instance.leasedMs += Date.now() - instance.leasedSince;
    if (instance.uses >= filesPerInstance || instance.leasedMs >= leasedMsPerInstance) retire(instance);
  };

  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://pool');
    const answer = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.method === 'POST' && url.pathname === '/lease') {
      lease().then(
        (leased) => answer(200, leased),
        (error: unknown) => answer(500, { error: String(error) }),
      );
    } else if (request.method === 'POST' && url.pathname === '/release') {
      release(Number(url.searchParams.get('id')));
      answer(200, {});
    } else {
      answer(404, { error: 'not found' });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(
        [...instances.values()].map((instance) =>
          instance.ready.then((dynamo) => dynamo.stop()).catch(() => {}),
        ),
      );
    },
  };
}

/** A test file's lease on one of the run's instances (setup-env.ts). */
export async function leaseDynamoLocal(
  poolUrl: string,
): Promise<{ endpoint: string; release: () => Promise<void> }> {
  const response = await fetch(`${poolUrl}/lease`, { method: 'POST' });
  const body = (await response.json()) as { id: number; endpoint: string; error?: string };
  if (!response.ok) throw new Error(`no DynamoDB Local for this test file: ${body.error}`);
  return {
    endpoint: body.endpoint,
    release: async () => {
      await fetch(`${poolUrl}/release?id=${body.id}`, { method: 'POST' });
    },
  };
}
