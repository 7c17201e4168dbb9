// Notification settings (issue 16 item 1): GET/PUT /v1/notifications with the billing scope, replaced whole,
// validated at the edge (addresses, at most 10, the threshold's decimals), one account's never another's.
import { describe, expect, it } from 'vitest';
import { keys } from '#shared/dynamo/keys.ts';
import { fundedAccount, tableItem } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { expectContractError } from '../support/assertions.ts';

const allOn = { low_balance: true, auto_refill: true, spend_limit: true, invoices: true, receipts: true };
const settings = {
  recipients: ['finance@example.com', 'ops@example.com'],
  low_balance_threshold: 12.5,
  events: { ...allOn, invoices: false },
};

describe('notification settings', () => {
  it('an account that never set them has the defaults: nobody, no low-balance alert, every family on', async () => {
    // Prepare
    const { token } = await fundedAccount(1);

    // Act
    const response = await call('GET', '/v1/notifications', { token });

    // Assess
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      recipients: [],
      low_balance_threshold: null,
      events: allOn,
      status: { last_sent_at: null, last_failure: null },
    });
  });

  it('PUT replaces them whole and GET answers what was stored; the threshold is exact micro-USD', async () => {
    // Prepare
    const { accountId, token } = await fundedAccount(1);

    // Act
    const put = await call('PUT', '/v1/notifications', { token, body: settings });
    const read = await call('GET', '/v1/notifications', { token });
    const cleared = await call('PUT', '/v1/notifications', {
      token,
      body: { recipients: [], low_balance_threshold: null, events: allOn },
    });

    // Assess
    expect(put.status).toBe(200);
    expect(put.body).toEqual(settings);
    expect(read.body).toEqual({ ...settings, status: { last_sent_at: null, last_failure: null } });
    expect(cleared.body).toEqual({ recipients: [], low_balance_threshold: null, events: allOn });
    expect(await tableItem(keys.notificationSettings(accountId))).toMatchObject({ recipients: [] });
  });

  it('one account’s settings are never another’s', async () => {
    // Prepare
    const mine = await fundedAccount(1);
    const theirs = await fundedAccount(1);

    // Act
    await call('PUT', '/v1/notifications', { token: mine.token, body: settings });
    const other = await call('GET', '/v1/notifications', { token: theirs.token });

    // Assess
    expect(other.body.recipients).toEqual([]);
  });

  it.each([
    [{ ...settings, recipients: ['not an address'] }, 'recipients.0'],
    [{ ...settings, recipients: Array.from({ length: 11 }, (_, i) => `p${i}@example.com`) }, 'recipients'],
    [{ ...settings, recipients: ['a@example.com', 'A@example.com'] }, 'recipients'],
    [{ ...settings, low_balance_threshold: 1.0000001 }, 'low_balance_threshold'],
    [{ ...settings, low_balance_threshold: -1 }, 'low_balance_threshold'],
    [{ ...settings, events: { ...allOn, marketing: true } }, 'events'],
    [{ ...settings, events: { low_balance: true } }, 'events.auto_refill'],
    [{ recipients: [], events: allOn }, 'low_balance_threshold'],
  ])('PUT %j → 400 naming %s, nothing stored', async (body, field) => {
    // Prepare
    const { token } = await fundedAccount(1);

    // Act
    const response = await call('PUT', '/v1/notifications', { token, body });

    // Assess
    expectContractError(response, 400, 'invalid_request', { details: true });
    const fields = (response.body.details as { field: string }[]).map((d) => d.field);
    expect(fields.some((f) => f === field || f.startsWith(`${field}.`) || field.startsWith(f))).toBe(true);
    expect((await call('GET', '/v1/notifications', { token })).body.recipients).toEqual([]);
  });

  it('needs the billing scope: an api token may neither read nor change them (403)', async () => {
    // Prepare
    const { token: billing } = await fundedAccount(1);
    const created = await call('POST', '/v1/tokens', {
      token: billing,
      body: { name: 'api', scopes: ['api'] },
    });

    // Act
    const read = await call('GET', '/v1/notifications', { token: created.body.token });
    const write = await call('PUT', '/v1/notifications', { token: created.body.token, body: settings });

    // Assess
    expectContractError(read, 403, 'forbidden');
    expectContractError(write, 403, 'forbidden');
  });
});
