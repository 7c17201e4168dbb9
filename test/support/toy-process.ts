// The toy upstream (test/support/toy-upstream.ts) in its own process for one test file: started before the
// file's tests, configured as the `sample` upstream of the proxy routes, ended with the file.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll } from 'vitest';

export type Seen = { method: string; url: string; headers: Record<string, string>; body: string };

export type ToyUpstream = {
  readonly secret: string;
  readonly url: string;
  /** What the upstream received for an account (each test uses its own account), in order. */
  seenBy(accountId: string): Promise<Seen[]>;
};

/** Registers the file's hooks; the returned object is usable inside tests (after `beforeAll`). */
export function useToyUpstream(): ToyUpstream {
  const secret = randomBytes(32).toString('base64url');
  let toy: ChildProcess;
  let url = '';
  beforeAll(async () => {
    toy = spawn(process.execPath, [new URL('./toy-upstream.ts', import.meta.url).pathname], {
      env: { ...process.env, TOY_SECRET: secret },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const [line] = (await once(createInterface({ input: toy.stdout! }), 'line')) as [string];
    url = (JSON.parse(line) as { url: string }).url;
    process.env.PROXY_UPSTREAMS = JSON.stringify({ sample: { url, secret } });
  });
  afterAll(() => {
    toy.stdin?.end();
    toy.kill();
  });
  return {
    secret,
    get url() {
      return url;
    },
    seenBy: async (accountId) => (await (await fetch(`${url}/__seen?account=${accountId}`)).json()) as Seen[],
  };
}
