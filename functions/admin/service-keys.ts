// Operator API: the service keys the operator's own backends call the metering API with.
import * as z from 'zod/mini';
import { json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf, pathOf } from '#shared/http/middleware.ts';
import { activeServiceKeys, createServiceKey, revokeServiceKeyById } from '#shared/service-keys/service.ts';

export const newServiceKey = z.strictObject({
  name: z.string().check(z.trim(), z.minLength(1), z.maxLength(100)),
});

export const serviceKeyPath = z.object({ id: z.string().check(z.maxLength(100)) });

export const handler = byRoute({
  // The key is a secret shown once: a replay answers the same key with `key: null`.
  'POST /admin/service-keys': apiRoute(
    { auth: 'admin', body: newServiceKey, idempotent: { redact: ['key'] } },
    async (_event, context) =>
      json(201, await createServiceKey(bodyOf<z.infer<typeof newServiceKey>>(context).name)),
  ),
  'GET /admin/service-keys': apiRoute({ auth: 'admin' }, async () =>
    json(200, { data: await activeServiceKeys() }),
  ),
  'DELETE /admin/service-keys/{id}': apiRoute(
    { auth: 'admin', path: serviceKeyPath },
    async (_event, context) => {
      await revokeServiceKeyById(pathOf<z.infer<typeof serviceKeyPath>>(context).id);
      return json(204, null);
    },
  ),
});
