// Marketplace emulator: SaaS contracts. GetEntitlements through the real Entitlement Service SDK (values,
// expiry, filters, pagination, refusals, throttling, failures), entitlements replaced and renewed with the
// events AWS sends, the local routes, and contracts kept across a restart.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Entitlement,
  GetEntitlementsCommand,
  type GetEntitlementsCommandInput,
  InternalServiceErrorException,
  InvalidParameterException,
  MarketplaceEntitlementServiceClient,
  paginateGetEntitlements,
  ThrottlingException,
} from '@aws-sdk/client-marketplace-entitlement-service';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { advanceClock, freezeClock, resetClock } from '#shared/clock.ts';
import { type MintedCustomer, startMarketplaceEmulator } from '../../local/marketplace/emulator.ts';
import { type Harness, startHarness } from './harness.ts';

let h: Harness;
let entitlements: MarketplaceEntitlementServiceClient;

beforeAll(async () => {
  h = await startHarness();
  entitlements = new MarketplaceEntitlementServiceClient({ ...h.emulator.clientConfig, maxAttempts: 1 });
});

afterAll(async () => {
  entitlements?.destroy();
  await h?.stop();
});

beforeEach(() => {
  freezeClock(NOW);
  h.events.length = 0;
});

afterEach(() => {
  resetClock();
  h.emulator.control.throttle(0);
  h.emulator.control.failEntitlements(0);
});

const NOW = new Date('2026-03-10T12:00:00Z');
const A_YEAR_LATER = new Date('2027-03-10T12:00:00Z');

const get = (input: GetEntitlementsCommandInput) => entitlements.send(new GetEntitlementsCommand(input));

const ofBuyer = (buyer: MintedCustomer) =>
  get({
    ProductCode: buyer.product_code,
    Filter: { CUSTOMER_AWS_ACCOUNT_ID: [buyer.customer_aws_account_id] },
  });

/** POST a JSON body to a local route; answers the status and parsed body. */
async function post(path: string, body: unknown) {
  const response = await fetch(`${h.emulator.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('GetEntitlements', () => {
  it("answers a contract buyer's quantity with its expiry as a Date, and nothing of other buyers", async () => {
    const buyer = h.emulator.control.mintCustomer({
      entitlements: [{ dimension: 'credits_100', quantity: 3 }],
    });
    const other = h.emulator.control.mintCustomer({
      entitlements: [{ dimension: 'credits_100', quantity: 7 }],
    });
    const payAsYouGo = h.emulator.control.mintCustomer();

    const out = await ofBuyer(buyer);

    expect(out.Entitlements).toEqual<Entitlement[]>([
      {
        ProductCode: buyer.product_code,
        Dimension: 'credits_100',
        CustomerIdentifier: buyer.customer_identifier,
        CustomerAWSAccountId: buyer.customer_aws_account_id,
        LicenseArn: buyer.license_arn,
        Value: { IntegerValue: 3 },
        ExpirationDate: A_YEAR_LATER,
      },
    ]);
    expect(out.Entitlements?.[0]?.ExpirationDate).toBeInstanceOf(Date);
    expect(out.NextToken).toBeUndefined();
    expect(buyer).toMatchObject({
      entitlements: [{ dimension: 'credits_100', quantity: 3 }],
      contract_end: A_YEAR_LATER.toISOString(),
    });
    expect((await ofBuyer(payAsYouGo)).Entitlements).toEqual([]);
    const all = await get({ ProductCode: buyer.product_code });
    const accounts = all.Entitlements?.map((e) => e.CustomerAWSAccountId);
    expect(accounts).toEqual(
      expect.arrayContaining([buyer.customer_aws_account_id, other.customer_aws_account_id]),
    );
    expect(accounts).not.toContain(payAsYouGo.customer_aws_account_id);
  });

  it('announces a contract purchase with Purchase Agreement Created - Manufacturer', () => {
    const buyer = h.emulator.control.mintCustomer({
      entitlements: [{ dimension: 'credits_100', quantity: 1 }],
      contract_end: '2026-09-10T12:00:00Z',
    });
    h.emulator.control.mintCustomer();
    expect(h.events.map((e) => e['detail-type'])).toEqual(['Purchase Agreement Created - Manufacturer']);
    expect(h.events[0]?.detail).toMatchObject({
      agreement: {
        id: buyer.agreement_id,
        intent: 'NEW',
        status: 'ACTIVE',
        endTime: '2026-09-10T12:00:00.000Z',
      },
      acceptor: { accountId: buyer.customer_aws_account_id },
      licenseArn: buyer.license_arn,
      product: { code: buyer.product_code },
    });
  });

  it('filters by dimension, license and customer identifier, and pages through several dimensions', async () => {
    const dimensions = ['credits_100', 'credits_1000', 'support', 'seats'];
    const buyer = h.emulator.control.mintCustomer({
      entitlements: dimensions.map((dimension, i) => ({ dimension, quantity: i + 1 })),
    });
    const filter = { CUSTOMER_IDENTIFIER: [buyer.customer_identifier] };

    const pages: Entitlement[][] = [];
    let nextToken: string | undefined;
    do {
      const page = await get({
        ProductCode: buyer.product_code,
        Filter: filter,
        MaxResults: 1,
        NextToken: nextToken,
      });
      pages.push(page.Entitlements ?? []);
      nextToken = page.NextToken;
    } while (nextToken);
    expect(pages.map((page) => page.map((e) => e.Dimension))).toEqual(dimensions.map((d) => [d]));

    const viaPaginator: string[] = [];
    for await (const page of paginateGetEntitlements(
      { client: entitlements, pageSize: 3 },
      { ProductCode: buyer.product_code, Filter: { LICENSE_ARN: [buyer.license_arn] } },
    )) {
      viaPaginator.push(...(page.Entitlements ?? []).map((e) => `${e.Dimension}=${e.Value?.IntegerValue}`));
    }
    expect(viaPaginator).toEqual(['credits_100=1', 'credits_1000=2', 'support=3', 'seats=4']);

    const some = await get({
      ProductCode: buyer.product_code,
      Filter: {
        CUSTOMER_AWS_ACCOUNT_ID: [buyer.customer_aws_account_id],
        DIMENSION: ['seats', 'support', 'none'],
      },
    });
    expect(some.Entitlements?.map((e) => e.Dimension)).toEqual(['support', 'seats']);
  });

  it('refuses what AWS refuses with InvalidParameterException (400)', async () => {
    const buyer = h.emulator.control.mintCustomer({
      entitlements: [
        { dimension: 'a', quantity: 1 },
        { dimension: 'b', quantity: 1 },
      ],
    });
    const refusals: GetEntitlementsCommandInput[] = [
      { ProductCode: 'unknownproductcode0000001' },
      { ProductCode: buyer.product_code, MaxResults: 0 },
      { ProductCode: buyer.product_code, MaxResults: 26 },
      // Only a cast gets an unknown filter name past the SDK's types; the wire carries any name.
      {
        ProductCode: buyer.product_code,
        Filter: { CUSTOMER_NAME: ['x'] } as GetEntitlementsCommandInput['Filter'],
      },
      {
        ProductCode: buyer.product_code,
        Filter: {
          CUSTOMER_IDENTIFIER: [buyer.customer_identifier],
          CUSTOMER_AWS_ACCOUNT_ID: [buyer.customer_aws_account_id],
        },
      },
      { ProductCode: buyer.product_code, NextToken: 'not-a-token' },
    ];
    for (const input of refusals) {
      const error = await get(input).catch((e: unknown) => e);
      expect(error, JSON.stringify(input)).toBeInstanceOf(InvalidParameterException);
      expect((error as InvalidParameterException).$metadata.httpStatusCode).toBe(400);
    }
    // A token is good only for the query it came from.
    const first = await get({ ProductCode: buyer.product_code, MaxResults: 1 });
    expect(first.NextToken).toBeDefined();
    await expect(
      get({
        ProductCode: buyer.product_code,
        MaxResults: 1,
        NextToken: first.NextToken,
        Filter: { DIMENSION: ['a'] },
      }),
    ).rejects.toBeInstanceOf(InvalidParameterException);

    // ProductCode missing altogether (sent as the wire has it, past the SDK).
    const response = await fetch(h.emulator.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AWSMPEntitlementService.GetEntitlements',
      },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ __type: 'InvalidParameterException' });
  });

  it('is throttled by throttle(n) and fails with InternalServiceErrorException (500) after failEntitlements(n)', async () => {
    const buyer = h.emulator.control.mintCustomer({
      entitlements: [{ dimension: 'credits_100', quantity: 2 }],
    });
    h.emulator.control.throttle(1);
    await expect(ofBuyer(buyer)).rejects.toBeInstanceOf(ThrottlingException);

    h.emulator.control.failEntitlements(2);
    for (let i = 0; i < 2; i++) {
      const error = await ofBuyer(buyer).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InternalServiceErrorException);
      expect((error as InternalServiceErrorException).$metadata.httpStatusCode).toBe(500);
    }
    expect((await ofBuyer(buyer)).Entitlements?.[0]?.Value?.IntegerValue).toBe(2);
  });

  it("keeps answering a cancelled buyer's entitlements with their expiry", async () => {
    const buyer = h.emulator.control.mintCustomer({
      entitlements: [{ dimension: 'credits_100', quantity: 1 }],
    });
    h.emulator.control.unsubscribe(buyer.customer_aws_account_id);
    expect((await ofBuyer(buyer)).Entitlements).toMatchObject([
      { Value: { IntegerValue: 1 }, ExpirationDate: A_YEAR_LATER },
    ]);
  });
});

describe('changing a contract', () => {
  it('amends the same agreement: new quantities, Amended and License Updated events', async () => {
    const buyer = h.emulator.control.mintCustomer({
      entitlements: [{ dimension: 'credits_100', quantity: 3 }],
    });
    h.events.length = 0;
    advanceClock(60_000);

    const changed = await post(`/__marketplace/customers/${buyer.customer_aws_account_id}/entitlements`, {
      entitlements: [{ dimension: 'credits_100', quantity: 5 }],
    });

    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      agreement_id: buyer.agreement_id,
      entitlements: [{ dimension: 'credits_100', quantity: 5 }],
      contract_end: A_YEAR_LATER.toISOString(),
    });
    expect((await ofBuyer(buyer)).Entitlements).toMatchObject([
      { Value: { IntegerValue: 5 }, ExpirationDate: A_YEAR_LATER },
    ]);
    expect(h.events.map((e) => e['detail-type'])).toEqual([
      'Purchase Agreement Amended - Manufacturer',
      'License Updated - Manufacturer',
    ]);
    for (const event of h.events) {
      expect(event).toMatchObject({
        source: 'aws.agreement-marketplace',
        time: '2026-03-10T12:01:00Z',
        region: 'us-east-1',
      });
      expect(event.detail).toMatchObject({
        acceptor: { accountId: buyer.customer_aws_account_id },
        licenseArn: buyer.license_arn,
        agreement: { id: buyer.agreement_id },
        product: { code: buyer.product_code },
      });
    }
    expect(h.events[0]?.detail).toMatchObject({ agreement: { intent: 'AMEND', status: 'ACTIVE' } });
    expect(h.events[1]?.detail).toMatchObject({ license: { arn: buyer.license_arn } });
    expect(h.events[1]?.resources).toEqual([buyer.license_arn]);
  });

  it('renews under a new agreement: new expiry, Created, Ended as RENEWED and License Updated events', async () => {
    const buyer = h.emulator.control.mintCustomer({
      entitlements: [{ dimension: 'credits_100', quantity: 3 }],
    });
    h.events.length = 0;
    freezeClock(new Date('2027-03-01T00:00:00Z'));

    const renewed = h.emulator.control.setEntitlements(buyer.customer_aws_account_id, {
      entitlements: [{ dimension: 'credits_100', quantity: 2 }],
      contract_end: '2028-03-10T12:00:00Z',
    });

    expect(renewed?.agreement_id).toMatch(/^agmt-[0-9a-z]{25}$/);
    expect(renewed?.agreement_id).not.toBe(buyer.agreement_id);
    expect(renewed?.contract_end).toBe('2028-03-10T12:00:00.000Z');
    expect((await ofBuyer(buyer)).Entitlements).toMatchObject([
      { Value: { IntegerValue: 2 }, ExpirationDate: new Date('2028-03-10T12:00:00Z') },
    ]);
    expect(h.events.map((e) => e['detail-type'])).toEqual([
      'Purchase Agreement Created - Manufacturer',
      'Purchase Agreement Ended - Manufacturer',
      'License Updated - Manufacturer',
    ]);
    expect(h.events[0]?.detail).toMatchObject({
      agreement: {
        id: renewed?.agreement_id,
        intent: 'RENEW',
        status: 'ACTIVE',
        startTime: '2027-03-01T00:00:00.000Z',
      },
      acceptor: { accountId: buyer.customer_aws_account_id },
      licenseArn: buyer.license_arn,
    });
    expect(h.events[1]?.detail).toMatchObject({
      agreement: { id: buyer.agreement_id, status: 'RENEWED', startTime: NOW.toISOString() },
      acceptor: { accountId: buyer.customer_aws_account_id },
      licenseArn: buyer.license_arn,
    });
    expect(h.events[2]?.detail).toMatchObject({
      license: { arn: buyer.license_arn },
      licenseArn: buyer.license_arn,
      agreement: { id: renewed?.agreement_id },
    });

    // The same term again is an amendment of the new agreement, not another renewal.
    const again = h.emulator.control.setEntitlements(buyer.customer_aws_account_id, {
      entitlements: [{ dimension: 'credits_100', quantity: 4 }],
      contract_end: '2028-03-10T12:00:00.000Z',
    });
    expect(again?.agreement_id).toBe(renewed?.agreement_id);
  });

  it('gives a pay-as-you-go buyer its first contract, 12 months from the change', () => {
    const buyer = h.emulator.control.mintCustomer();
    expect(buyer).toMatchObject({ entitlements: null, contract_end: null });
    advanceClock(24 * 3_600_000);
    const changed = h.emulator.control.setEntitlements(buyer.customer_aws_account_id, {
      entitlements: [{ dimension: 'credits_100', quantity: 1 }],
    });
    expect(changed?.contract_end).toBe('2027-03-11T12:00:00.000Z');
    expect(h.emulator.control.setEntitlements('999999999999', { entitlements: [] })).toBeUndefined();
  });
});

describe('local routes', () => {
  it('mints a contract buyer (201) and lists entitlements and contract_end, null when none', async () => {
    const minted = await post('/__marketplace/customers', {
      entitlements: [{ dimension: 'credits_100', quantity: 3 }],
      contract_end: '2026-12-31T00:00:00+01:00',
    });
    expect(minted.status).toBe(201);
    expect(minted.body).toMatchObject({
      entitlements: [{ dimension: 'credits_100', quantity: 3 }],
      contract_end: '2026-12-30T23:00:00.000Z',
    });
    const payAsYouGo = await post('/__marketplace/customers', {});
    expect(payAsYouGo.body).toMatchObject({ entitlements: null, contract_end: null });
    // A buyer's fields as listed, sent back, make the same kind of buyer.
    const echoed = await post('/__marketplace/customers', { entitlements: null, contract_end: null });
    expect(echoed).toMatchObject({ status: 201, body: { entitlements: null, contract_end: null } });

    const listed = (await (await fetch(`${h.emulator.url}/__marketplace/customers`)).json()) as {
      data: MintedCustomer[];
    };
    const byAccount = new Map(listed.data.map((c) => [c.customer_aws_account_id, c]));
    expect(byAccount.get(minted.body.customer_aws_account_id as string)).toMatchObject({
      entitlements: [{ dimension: 'credits_100', quantity: 3 }],
      contract_end: '2026-12-30T23:00:00.000Z',
    });
    expect(byAccount.get(payAsYouGo.body.customer_aws_account_id as string)).toMatchObject({
      entitlements: null,
      contract_end: null,
    });
  });

  it('refuses bad contracts with 400 validation_error, and unknown buyers with 404', async () => {
    const bad: unknown[] = [
      { entitlements: [{ dimension: 'credits_100', quantity: -1 }] },
      { entitlements: [{ dimension: 'credits_100', quantity: 1.5 }] },
      { entitlements: [{ dimension: '', quantity: 1 }] },
      { entitlements: [{ dimension: 'x'.repeat(256), quantity: 1 }] },
      { entitlements: [{ dimension: 7, quantity: 1 }] },
      {
        entitlements: [
          { dimension: 'a', quantity: 1 },
          { dimension: 'a', quantity: 2 },
        ],
      },
      { entitlements: 'credits_100' },
      { entitlements: [], contract_end: 'next year' },
      { contract_end: '2027-01-01T00:00:00Z' },
      '{not json',
      [],
    ];
    const before = h.emulator.control.customers().length;
    for (const body of bad) {
      const answer = await post('/__marketplace/customers', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body).toMatchObject({ code: 'validation_error', error: expect.any(String) });
    }
    expect(h.emulator.control.customers()).toHaveLength(before);
    const named = await post('/__marketplace/customers', {
      entitlements: [{ dimension: 'credits_100', quantity: -1 }],
    });
    expect(named.body.error).toContain('entitlements.0.quantity');

    const buyer = h.emulator.control.mintCustomer({
      entitlements: [{ dimension: 'credits_100', quantity: 1 }],
    });
    const path = `/__marketplace/customers/${buyer.customer_aws_account_id}/entitlements`;
    for (const body of [{}, { entitlements: null }]) {
      expect(await post(path, body)).toMatchObject({ status: 400, body: { code: 'validation_error' } });
    }
    expect((await post(path, { entitlements: [{ dimension: 'credits_100', quantity: -3 }] })).status).toBe(
      400,
    );
    expect((await ofBuyer(buyer)).Entitlements?.[0]?.Value?.IntegerValue).toBe(1);

    const unknown = await post('/__marketplace/customers/999999999999/entitlements', { entitlements: [] });
    expect(unknown).toMatchObject({ status: 404, body: { code: 'not_found', error: expect.any(String) } });
  });
});

describe('a state file', () => {
  const folder = mkdtempSync(join(tmpdir(), 'marketplace-contracts-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('keeps entitlements, contract end and agreement across a restart, and reads files written before contracts', async () => {
    // Prepare: a contract buyer, renewed, and a pay-as-you-go buyer (stored as older files stored every buyer).
    const stateFile = join(folder, 'marketplace.json');
    const first = await startMarketplaceEmulator({ stateFile });
    const buyer = first.control.mintCustomer({ entitlements: [{ dimension: 'credits_100', quantity: 3 }] });
    const renewed = first.control.setEntitlements(buyer.customer_aws_account_id, {
      entitlements: [{ dimension: 'credits_100', quantity: 4 }],
      contract_end: '2028-01-01T00:00:00Z',
    });
    const payAsYouGo = first.control.mintCustomer();
    await first.stop();
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { customers: Record<string, unknown>[] };
    const savedPayAsYouGo = saved.customers.find(
      (c) => c.awsAccountId === payAsYouGo.customer_aws_account_id,
    );
    expect(Object.keys(savedPayAsYouGo ?? {})).not.toContain('entitlements');

    // Act: start again from the file.
    const second = await startMarketplaceEmulator({ stateFile });
    const client = new MarketplaceEntitlementServiceClient({ ...second.clientConfig, maxAttempts: 1 });
    try {
      // Assess: the same contract, agreement and expiry; the older-style buyer has none.
      const listed = new Map(second.control.customers().map((c) => [c.customer_aws_account_id, c]));
      expect(listed.get(buyer.customer_aws_account_id)).toMatchObject({
        agreement_id: renewed?.agreement_id,
        entitlements: [{ dimension: 'credits_100', quantity: 4 }],
        contract_end: '2028-01-01T00:00:00.000Z',
      });
      expect(listed.get(payAsYouGo.customer_aws_account_id)).toMatchObject({
        entitlements: null,
        contract_end: null,
      });
      const out = await client.send(new GetEntitlementsCommand({ ProductCode: buyer.product_code }));
      expect(out.Entitlements).toMatchObject([
        {
          CustomerAWSAccountId: buyer.customer_aws_account_id,
          Value: { IntegerValue: 4 },
          ExpirationDate: new Date('2028-01-01T00:00:00Z'),
        },
      ]);
    } finally {
      client.destroy();
      await second.stop();
    }
  });
});
