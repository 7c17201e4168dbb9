// /v1/webhook-endpoints: the account's webhook endpoints (billing scope): create (the signing secret is shown
// once), list, re-enable, delete, the delivery log of one, and "send test event".
import * as z from 'zod/mini';
import { json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf, callerOf, pathOf } from '#shared/http/middleware.ts';
import { DELIVERY_PAGE_LIMIT, deliveryView, listDeliveries } from '#shared/webhook-endpoints/deliveries.ts';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  enableWebhookEndpoint,
  endpointView,
  getWebhookEndpoint,
  listWebhookEndpoints,
  newWebhookEndpoint,
  webhookEndpointChanges,
  webhookEndpointPath,
} from '#shared/webhook-endpoints/endpoints.ts';
import { queueTestDelivery } from '#shared/webhook-endpoints/fan-out.ts';

type EndpointPath = z.infer<typeof webhookEndpointPath>;

export const testEventAnswer = z.object({
  id: z.string().check(z.describe('The webhook-id of the test delivery')),
});

export const handler = byRoute({
  'POST /v1/webhook-endpoints': apiRoute(
    { auth: 'billing', body: newWebhookEndpoint, idempotent: { redact: ['secret'] } },
    async (_event, context) => {
      const body = bodyOf<z.infer<typeof newWebhookEndpoint>>(context);
      const { accountId, actor } = callerOf(context);
      return json(201, await createWebhookEndpoint(accountId, body, actor));
    },
  ),
  'GET /v1/webhook-endpoints': apiRoute({ auth: 'billing' }, async (_event, context) =>
    json(200, { data: (await listWebhookEndpoints(callerOf(context).accountId)).map(endpointView) }),
  ),
  'PATCH /v1/webhook-endpoints/{id}': apiRoute(
    { auth: 'billing', path: webhookEndpointPath, body: webhookEndpointChanges },
    async (_event, context) => {
      const { accountId, actor } = callerOf(context);
      const endpoint = await enableWebhookEndpoint(accountId, pathOf<EndpointPath>(context).id, actor);
      return json(200, endpointView(endpoint));
    },
  ),
  'DELETE /v1/webhook-endpoints/{id}': apiRoute(
    { auth: 'billing', path: webhookEndpointPath },
    async (_event, context) => {
      const { accountId, actor } = callerOf(context);
      await deleteWebhookEndpoint(accountId, pathOf<EndpointPath>(context).id, actor);
      return json(204, null);
    },
  ),
  'GET /v1/webhook-endpoints/{id}/deliveries': apiRoute(
    { auth: 'billing', path: webhookEndpointPath },
    async (_event, context) => {
      const endpoint = await getWebhookEndpoint(
        callerOf(context).accountId,
        pathOf<EndpointPath>(context).id,
      );
      const deliveries = await listDeliveries(endpoint.id, DELIVERY_PAGE_LIMIT);
      return json(200, { data: deliveries.map(deliveryView) });
    },
  ),
  'POST /v1/webhook-endpoints/{id}/test': apiRoute(
    { auth: 'billing', path: webhookEndpointPath },
    async (_event, context) =>
      json(202, await queueTestDelivery(callerOf(context).accountId, pathOf<EndpointPath>(context).id)),
  ),
});
