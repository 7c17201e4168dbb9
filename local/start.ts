// `npm start`: the whole stack on this machine, seeded with a demo account, until Ctrl-C. Its data lives in
// a directory (`.local-data/` or LOCAL_DATA_DIR) that one running stack holds at a time.
import { proxyRoutes } from '#infra/definitions/routes.ts';
import {
  DataDirectoryInUseError,
  type DataDirectoryLock,
  dataDirectoryFromEnvironment,
  emptyDataDirectory,
  lockDataDirectory,
} from './data-dir.ts';
import { JavaMissingError } from './dynamo-local.ts';
import { DEMO_OWNER_EMAIL, type LocalStack, startLocalStack } from './server.ts';
import { StateFileUnreadableError } from './state-file.ts';

function banner(stack: LocalStack, generatedKey: boolean): string {
  const url = `http://localhost:${stack.port}`;
  const key = stack.adminApiKey;
  const lines = [
    '',
    `Credits billing, local mode: ${url}`,
    '',
    `  Data:                     ${stack.dataDirectory}   (kept across restarts; npm start -- --fresh starts empty)`,
    `  Admin key (x-admin-key):  ${key}${generatedKey ? '   (generated, kept with the data; set ADMIN_API_KEY to choose one)' : ''}`,
    `  Rate limits:              ${stack.rateLimits.token.rps}/s, bursts of ${stack.rateLimits.token.burst} per token; ${stack.rateLimits.account.rps}/s, bursts of ${stack.rateLimits.account.burst} per account   (RATE_LIMIT_*)`,
    stack.stripe
      ? `  Stripe emulator:          ${stack.stripe.url}   (checkout pages; test cards 4242…, 9995, 3184, 0341)`
      : `  Stripe:                   test mode (STRIPE_SECRET_KEY); forward webhooks with\n` +
        `                            stripe listen --forward-to localhost:${stack.port}/webhooks/stripe`,
  ];
  for (const [name, upstream] of Object.entries(stack.upstreams)) {
    lines.push(
      `  Upstream "${name}":${' '.repeat(Math.max(1, 14 - name.length))}${upstream.url}   (behind ${proxyRoutes()
        .filter((route) => route.proxy.upstream === name)
        .map((route) => route.path)
        .join(', ')}; signing secret ${upstream.secret})`,
    );
  }
  if (stack.marketplace) {
    lines.push(
      `  AWS Marketplace emulator: ${url}/__marketplace/customers   (POST mints a buyer; register with its token at /marketplace/register)`,
    );
  }
  if (stack.demo) {
    const { accountId, token } = stack.demo;
    lines.push(
      `  Demo account:             ${accountId}`,
      `  Demo billing token:       ${token}`,
      `  Billing dashboard:        ${url}/   (sign in by email as ${DEMO_OWNER_EMAIL}, or with the demo billing token)`,
      `  Local mailbox:            ${url}/__local/mailbox   (sign-in links and every other email; JSON: GET /__local/mail, x-admin-key)`,
      '',
      'Try:',
      `  curl -s -X POST ${url}/admin/accounts/${accountId}/credits \\`,
      `    -H 'x-admin-key: ${key}' -H 'content-type: application/json' \\`,
      `    -d '{"amount": 5, "reason": "Top-up"}'`,
      `  curl -s -X POST ${url}/v1/demo/echo \\`,
      `    -H 'authorization: Bearer ${token}' -H 'content-type: application/json' \\`,
      `    -d '{"text": "hello"}'`,
      `  curl -s -X POST ${url}/v1/sample/translate \\`,
      `    -H 'authorization: Bearer ${token}' -H 'content-type: application/json' \\`,
      `    -d '{"text": "hello", "to": "fr"}'   # a metered proxy route to the sample upstream`,
      `  curl -s ${url}/v1/credits -H 'authorization: Bearer ${token}'`,
    );
  }
  lines.push('', 'Ctrl-C stops everything.', '');
  return lines.join('\n');
}

/** npm forwards the terminal's Ctrl-C to this process as well: two signals this close are one. */
const SAME_SIGNAL_MS = 1_000;

/** How often to check that whoever started this process still runs. */
const PARENT_CHECK_MS = 1_000;

function takeDataDirectory(directory: string, fresh: boolean): DataDirectoryLock {
  try {
    const lock = lockDataDirectory(directory);
    if (fresh) emptyDataDirectory(directory);
    return lock;
  } catch (error) {
    if (!(error instanceof DataDirectoryInUseError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`PORT must be a port number, got ${process.env.PORT}`);
    process.exit(1);
  }
  const dataDirectory = dataDirectoryFromEnvironment();
  const lock = takeDataDirectory(dataDirectory, process.argv.includes('--fresh'));

  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      port,
      host: process.env.HOST || '127.0.0.1',
      ...(process.env.ADMIN_API_KEY ? { adminApiKey: process.env.ADMIN_API_KEY } : {}),
      dataDirectory,
      seedDemo: true,
      runJobs: true,
    });
  } catch (error) {
    lock.release();
    if (error instanceof JavaMissingError || error instanceof StateFileUnreadableError) {
      console.error(error.message);
    } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`Port ${port} is already in use; set PORT to another one, e.g. PORT=3001 npm start`);
    } else {
      console.error('The local stack did not start:', error);
    }
    process.exit(1);
  }
  console.log(banner(stack, !process.env.ADMIN_API_KEY));

  let stoppingSince: number | undefined;
  const shutdown = async (reason: string) => {
    if (stoppingSince !== undefined) {
      // A second Ctrl-C while stopping means "now" (Java still stops: see dynamo-local.ts).
      if (performance.now() - stoppingSince > SAME_SIGNAL_MS) process.exit(1);
      return;
    }
    stoppingSince = performance.now();
    console.log(`\n${reason}: stopping…`);
    try {
      await stack.stop();
      lock.release();
      process.exit(0);
    } catch (error) {
      console.error('Stopping failed:', error);
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // The terminal closed.
  process.on('SIGHUP', () => void shutdown('SIGHUP'));
  // Whoever started us (npm, a test, a supervisor) was killed without passing a signal on: we were
  // handed to another parent.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void shutdown('parent process gone');
  }, PARENT_CHECK_MS).unref();
}

await main();
