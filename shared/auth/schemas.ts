// The answer shapes of the session routes (GET/PUT /auth/session), for the OpenAPI document.
import * as z from 'zod/mini';
import { ROLES } from './caller.ts';

export const accountChoiceSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES as ['viewer', 'billing', 'owner']),
});

/** `email` null (and no accounts): no session, or one that ended; GET /auth/session answers it with 200. */
export const sessionViewSchema = z.strictObject({
  email: z.nullable(z.string()),
  account: z.nullable(accountChoiceSchema),
  accounts: z.array(accountChoiceSchema),
});
