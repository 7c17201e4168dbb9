// `npm start`: the whole stack on this machine, seeded with a demo account, until Ctrl-C.
import { randomBytes } from 'node:crypto';
import { JavaMissingError } from './dynamo-local.ts';
import { type LocalStack, startLocalStack } from './server.ts';

function banner(stack: LocalStack, generatedKey: boolean): string {
  const url = `http://localhost:${stack.port}`;
  const key = stack.adminApiKey;
  const lines = [
    '',
    `Credits billing, local mode: ${url}`,
    '',
    `  Admin key (x-admin-key):  ${key}${generatedKey ? '   (generated; set ADMIN_API_KEY to choose one)' : ''}`,
    stack.stripe
      ? `  Stripe emulator:          ${stack.stripe.url}   (checkout pages; test cards 4242…, 9995, 3184, 0341)`
      : `  Stripe:                   test mode (STRIPE_SECRET_KEY); forward webhooks with\n` +
        `                            stripe listen --forward-to localhost:${stack.port}/webhooks/stripe`,
  ];
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
      `  Billing dashboard:        ${url}/   (sign in with the demo billing token)`,
      '',
      'Try:',
      `  curl -s -X POST ${url}/admin/accounts/${accountId}/credits \\`,
      `    -H 'x-admin-key: ${key}' -H 'content-type: application/json' \\`,
      `    -d '{"amount": 5, "reason": "Top-up"}'`,
      `  curl -s -X POST ${url}/v1/demo/echo \\`,
      `    -H 'authorization: Bearer ${token}' -H 'content-type: application/json' \\`,
      `    -d '{"text": "hello"}'`,
      `  curl -s ${url}/v1/credits -H 'authorization: Bearer ${token}'`,
    );
  }
  lines.push('', 'Ctrl-C stops everything.', '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`PORT must be a port number, got ${process.env.PORT}`);
    process.exit(1);
  }
  const generatedKey = !process.env.ADMIN_API_KEY;
  const adminApiKey = process.env.ADMIN_API_KEY || randomBytes(24).toString('base64url');

  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      port,
      host: process.env.HOST || '127.0.0.1',
      adminApiKey,
      seedDemo: true,
      runJobs: true,
    });
  } catch (error) {
    if (error instanceof JavaMissingError) {
      console.error(error.message);
    } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`Port ${port} is already in use; set PORT to another one, e.g. PORT=3001 npm start`);
    } else {
      console.error('The local stack did not start:', error);
    }
    process.exit(1);
  }
  console.log(banner(stack, generatedKey));

  let stopping = false;
  const shutdown = async (signal: string) => {
    // A second Ctrl-C while stopping means "now".
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    try {
      await stack.stop();
      process.exit(0);
    } catch (error) {
      console.error('Stopping failed:', error);
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

await main();
