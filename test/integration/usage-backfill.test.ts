// The one-off usage backfill after an upgrade from usage-day items (shared/usage/backfill.ts,
// `npm run usage:backfill`): ledger entries from before the stream are rolled up exactly once, whether the
// stream consumer also sees them, the run crashes and is run again, or it is run a second time.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { freezeClock, nowIso, resetClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { newUlid } from '#shared/ids.ts';
import { chargeUsage, type UsageCharge } from '#shared/ledger/ledger.ts';
import { reverseCharge } from '#shared/ledger/reversal.ts';
import type { Micros } from '#shared/money.ts';
import { BACKFILL_DONE_KEY, backfillUsage } from '#shared/usage/backfill.ts';
import { fundedAccount, ledgerEntries } from '../support/accounts.ts';
import { expectRollupsToMatchLedger, rollupItems } from '../support/rollups.ts';
import { rollUpRecordedUsage } from '../support/stream.ts';

const FAR_FUTURE = '2100-01-01T00:00:00.000Z';

afterEach(async () => {
  resetClock();
  // Each test backfills the file's table afresh.
  await ddb().send(new DeleteCommand({ TableName: process.env.TABLE_NAME, Key: BACKFILL_DONE_KEY }));
});

/** Charges as every metered route does; the stream holds the entry until the test drains it. */
async function charge(accountId: string, index: number): Promise<UsageCharge> {
  const entryId = newUlid();
  const made: UsageCharge = {
    accountId,
    entryId,
    requestId: `req_${entryId}`,
    tokenId: `tok_${index % 3}`,
    feature: `feature_${index % 4}`,
    quantity: 1,
    cost: (1000 + index) as Micros,
    at: nowIso(),
  };
  expect((await chargeUsage(made)).status).toBe('charged');
  return made;
}

/** An account with history: 24 charges over 3 tokens and 4 features, one of them reversed. */
async function accountWithHistory() {
  const { accountId } = await fundedAccount(10);
  const charged: UsageCharge[] = [];
  for (let i = 0; i < 24; i++) charged.push(await charge(accountId, i));
  expect(await reverseCharge(charged[5]!, nowIso())).toBe('reversed');
  return accountId;
}

async function rollupCount(accountId: string) {
  return (await rollupItems(accountId)).filter((item) => item.kind === 'usage_rollup').length;
}

describe('usage backfill', () => {
  it('rolls up the entries from before the stream once; the stream delivering them too adds nothing', async () => {
    const accountId = await accountWithHistory();
    const entries = await ledgerEntries(accountId);
    expect(await rollupCount(accountId)).toBe(0);

    const report = await backfillUsage({ before: FAR_FUTURE });

    expect(report.entries).toBeGreaterThanOrEqual(entries.length);
    expect(report.applied).toBe(report.entries);
    await expectRollupsToMatchLedger(accountId);
    await rollUpRecordedUsage();
    await expectRollupsToMatchLedger(accountId);
  });

  it('a run that crashed after its first page, run again, counts every entry once; a finished run is not run twice', async () => {
    const accountId = await accountWithHistory();
    const entries = await ledgerEntries(accountId);
    // The earlier tests' entries were applied already: the first page that applies any is this account's.
    await expect(
      backfillUsage({
        before: FAR_FUTURE,
        pageSize: 10,
        onPage: (progress) => {
          if (progress.applied > 0) throw new Error('crash after a page');
        },
      }),
    ).rejects.toThrow('crash after a page');
    const appliedBeforeCrash = (await rollupItems(accountId)).find((item) => item.SK === 'WATERMARK');
    expect(appliedBeforeCrash?.entries_applied).toBeGreaterThan(0);
    expect(appliedBeforeCrash?.entries_applied).toBeLessThan(entries.length);

    const resumed = await backfillUsage({ before: FAR_FUTURE, pageSize: 10 });
    await expectRollupsToMatchLedger(accountId);
    expect(resumed.applied).toBe(entries.length - Number(appliedBeforeCrash?.entries_applied));

    const again = await backfillUsage({ before: FAR_FUTURE });
    expect(again.alreadyDoneAt).toBeDefined();
    expect(again.applied).toBe(0);
    await expectRollupsToMatchLedger(accountId);
  });

  it('leaves the entries from `before` on to the stream', async () => {
    freezeClock(new Date('2031-03-01T10:00:00.000Z'));
    const { accountId } = await fundedAccount(10);
    await charge(accountId, 0);
    await charge(accountId, 1);
    freezeClock(new Date('2031-03-01T12:00:00.000Z'));
    await charge(accountId, 2);

    const report = await backfillUsage({ before: '2031-03-01T11:00:00.000Z' });

    // The grant and the two morning charges of this account (other tests' accounts are older still).
    const applied = (await rollupItems(accountId)).find((item) => item.SK === 'WATERMARK');
    expect(applied?.entries_applied).toBe(3);
    expect(report.before).toBe('2031-03-01T11:00:00.000Z');
    await rollUpRecordedUsage();
    await expectRollupsToMatchLedger(accountId);
  });

  it('by default takes the entries from before the table’s stream was enabled: none in a table created with it', async () => {
    const { accountId } = await fundedAccount(10);
    await charge(accountId, 0);

    const report = await backfillUsage({});

    expect(Date.parse(report.before)).toBeLessThanOrEqual(Date.now());
    expect(report.entries).toBe(0);
    expect(await rollupCount(accountId)).toBe(0);
  });

  it('npm run usage:backfill: a dry run counts and writes nothing; bad arguments exit 2', async () => {
    const { accountId } = await fundedAccount(10);
    await charge(accountId, 0);
    const run = promisify(execFile);
    const env = { ...process.env, DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT };
    const script = new URL('../../scripts/backfill-usage.ts', import.meta.url).pathname;

    const dry = await run(
      process.execPath,
      [script, '--table', process.env.TABLE_NAME!, '--before', FAR_FUTURE, '--dry-run'],
      { env },
    );

    expect(dry.stdout).toMatch(
      /^dry run: would roll up (\d+) of \1 entries before 2100-01-01T00:00:00\.000Z$/m,
    );
    expect(await rollupCount(accountId)).toBe(0);
    const missing = await run(process.execPath, [script], { env }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('--table is required') });
    const badTime = await run(process.execPath, [script, '--table', 't', '--before', 'yesterday'], {
      env,
    }).catch((error: { code: number; stderr: string }) => error);
    expect(badTime).toMatchObject({ code: 2, stderr: expect.stringContaining('--before is not a time') });
  });
});
