// POST /webhooks/stripe: Stripe's signed events, verified on the exact raw body, then acted on.
import * as z from 'zod/mini';
import { json } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { logger } from '#shared/observability/powertools.ts';
import { handleEvent, verifiedEvent } from '#shared/payments/webhooks.ts';

export const webhookAnswer = z.object({
  received: z.literal(true),
  /**
   * `ignored`: an event type this deployment does not act on, or an object it never created (or Stripe no
   * longer knows); `refused`: money this deployment will not move (not USD), logged and counted.
   */
  outcome: z.enum(['handled', 'ignored', 'refused']),
});

/** A missing, forged or stale signature (InvalidSignatureError): nothing was changed. */
export const signatureRefusal = z.object({ error: z.string(), code: z.literal('invalid_signature') });

export const handler = apiRoute({ auth: 'none' }, async (event) => {
  const raw = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  const stripeEvent = await verifiedEvent(raw, event.headers?.['stripe-signature']);
  const outcome = await handleEvent(stripeEvent);
  logger.info('stripe event', { id: stripeEvent.id, type: stripeEvent.type, outcome });
  const answer: z.output<typeof webhookAnswer> = { received: true, outcome };
  return json(200, answer);
});
