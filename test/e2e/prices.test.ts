import { describe, expect, it } from 'vitest';
import { stackClient } from '../support/http.ts';
import { useLocalStack } from '../support/stack.ts';

const ADMIN_KEY = 'e2e-prices-admin-key';
const stackOf = useLocalStack('e2e-prices', { adminApiKey: ADMIN_KEY });

const api = stackClient(() => stackOf().url, ADMIN_KEY);

describe('GET /v1/prices', () => {
  it('answers the catalog without a token, as exact decimals', async () => {
    const response = await fetch(`${stackOf().url}/v1/prices`);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9A-Z]{26}$/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await response.text()).toBe(
      '{"currency":"USD","data":[' +
        '{"feature":"echo","pricing":"fixed","price":0.002},' +
        '{"feature":"words","pricing":"per_unit","unit":"word","unit_price":0.0001},' +
        '{"feature":"sample_translate","pricing":"fixed","price":0.005},' +
        '{"feature":"sample_complete","pricing":"per_unit","unit":"token","unit_price":0.00002,"max_quantity":8192},' +
        '{"feature":"completion","pricing":"dynamic","max_amount":0.5}]}',
    );
  });

  it('ignores a token, even an unknown one: the route is public', async () => {
    const response = await api('GET', '/v1/prices', { token: 'crd_not_a_real_token' });

    expect(response.status).toBe(200);
    expect(response.body.currency).toBe('USD');
  });

  it('quotes what a call is charged', async () => {
    const created = await api('POST', '/admin/accounts', { admin: true, body: { name: 'Prices' } });
    const { account_id: accountId, token } = created.body as { account_id: string; token: string };
    await api('POST', `/admin/accounts/${accountId}/credits`, {
      admin: true,
      body: { amount: 1, reason: 't' },
    });
    const prices = await api('GET', '/v1/prices');
    const echo = prices.body.data.find((entry: { feature: string }) => entry.feature === 'echo');

    const charged = await api('POST', '/v1/demo/echo', { token, body: { text: 'priced' } });

    expect(charged.status).toBe(200);
    expect(charged.body.cost).toBe(echo.price);
  });

  it('is GET only: other methods reach the catch-all 404', async () => {
    const response = await api('POST', '/v1/prices', { body: {} });

    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ code: 'not_found' });
  });
});
