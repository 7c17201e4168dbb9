// `npm run usage:backfill -- --table <name> [--before <ISO time>] [--dry-run]`: once, after upgrading a
// deployment whose charges wrote usage-day items, rolls the ledger entries from before the table's stream
// into the usage rollups (shared/usage/backfill.ts), so GET /v1/usage covers the whole history.
// Uses the AWS credentials and region of the environment (AWS_PROFILE, AWS_REGION). Exit 0 when done (or
// already done), 1 on a failure (run it again: what it applied is not applied twice), 2 for bad arguments.
import { parseArgs } from 'node:util';

const USAGE = `Usage: npm run usage:backfill -- --table <table name> [--before <ISO time>] [--dry-run]

  --table <name>     the CreditsData stack's table (its output TableName)
  --before <time>    roll up ledger entries written before this time; default: when the table's stream
                     was enabled (every later entry reached the usage rollup consumer)
  --dry-run          count the entries, write nothing
  --help             this text

Run it within 30 days of an interrupted run to resume it exactly; a finished backfill is recorded and
a second run does nothing.`;

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

let values: { table?: string; before?: string; 'dry-run'?: boolean; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      table: { type: 'string' },
      before: { type: 'string' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  }));
} catch (error) {
  fail(`${(error as Error).message}\n\n${USAGE}`, 2);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!values.table) fail(`--table is required\n\n${USAGE}`, 2);
if (values.before !== undefined && Number.isNaN(Date.parse(values.before)))
  fail(`--before is not a time: ${values.before}`, 2);

process.env.TABLE_NAME = values.table;
// The shared code reads its configuration when first used: import it after the table is set.
const { backfillUsage } = await import('#shared/usage/backfill.ts');
try {
  const report = await backfillUsage({
    ...(values.before ? { before: new Date(values.before).toISOString() } : {}),
    dryRun: values['dry-run'] ?? false,
    onPage: (progress) =>
      process.stdout.write(
        `scanned: ${progress.entries} entries before ${progress.before}, applied ${progress.applied}\n`,
      ),
  });
  if (report.alreadyDoneAt)
    process.stdout.write(
      `already done at ${report.alreadyDoneAt} (entries before ${report.before}); nothing to do\n`,
    );
  else
    process.stdout.write(
      `${report.dryRun ? 'dry run: would roll up' : 'done: rolled up'} ${report.dryRun ? report.entries : report.applied} of ${report.entries} entries before ${report.before}\n`,
    );
} catch (error) {
  fail(`backfill failed: ${(error as Error).message}. Run it again: entries already applied are skipped.`, 1);
}
