// An operator's Node backend charging the customer who called it, through the metering API and the typed client.
import createClient from 'openapi-fetch';
import type { paths } from '../../client/openapi.ts';

export async function chargeCall(api: string, serviceKey: string, customerToken: string, callId: string) {
  const meter = createClient<paths>({ baseUrl: api, headers: { authorization: `Bearer ${serviceKey}` } });
  const { data, error } = await meter.POST('/v1/meter/charges', {
    params: { header: { 'idempotency-key': callId } }, // a retry with the same id is charged once
    body: { customer_token: customerToken, feature: 'echo' },
  });
  return data ?? error; // { charge_id, cost, credits_remaining, ... } or { code: 'insufficient_credits', ... }
}
