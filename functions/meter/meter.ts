// The metering API: the operator's own backends (service keys) charge, hold, settle and release for their
// customers. Every POST requires an Idempotency-Key, so a retried call is charged once.
import type * as z from 'zod/mini';
import { json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf, pathOf } from '#shared/http/middleware.ts';
import { fingerprintOf, requiredIdempotencyKey, serviceScope } from '#shared/idempotency/middleware.ts';
import { sha256Hex } from '#shared/ids.ts';
import {
  holdPath,
  meterCallBody,
  meterCharge,
  meterHold,
  meterRelease,
  meterSettle,
  meterSettleBody,
} from '#shared/metering/meter-api.ts';

const exactlyOnce = { required: true };
const holdIdOf = (context: Parameters<typeof pathOf>[0]) => pathOf<z.infer<typeof holdPath>>(context).id;

export const handler = byRoute({
  // The key's record is written in the charge's own transaction (meterCharge), not by the middleware.
  'POST /v1/meter/charges': apiRoute({ auth: 'service', body: meterCallBody }, async (event, context) => {
    const keyHash = sha256Hex(requiredIdempotencyKey(event));
    const answer = await meterCharge(bodyOf<z.output<typeof meterCallBody>>(context), context.api, {
      scope: serviceScope(keyHash),
      keyHash,
      fingerprint: fingerprintOf(event),
    });
    if ('made' in answer) return json(201, answer.made);
    // The replay carries the request id of the attempt that made it, as every replay does.
    context.api.requestId = answer.requestId;
    return { ...answer.replayed };
  }),
  'POST /v1/meter/holds': apiRoute(
    { auth: 'service', body: meterCallBody, idempotent: exactlyOnce },
    async (_event, context) =>
      json(201, await meterHold(bodyOf<z.output<typeof meterCallBody>>(context), context.api)),
  ),
  'POST /v1/meter/holds/{id}/settle': apiRoute(
    { auth: 'service', path: holdPath, body: meterSettleBody, idempotent: exactlyOnce },
    async (_event, context) =>
      json(
        200,
        await meterSettle(holdIdOf(context), bodyOf<z.output<typeof meterSettleBody>>(context), context.api),
      ),
  ),
  'POST /v1/meter/holds/{id}/release': apiRoute(
    { auth: 'service', path: holdPath, idempotent: exactlyOnce },
    async (_event, context) => json(200, await meterRelease(holdIdOf(context), context.api)),
  ),
});
