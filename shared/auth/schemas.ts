// The answer shapes of the session routes (GET/PUT /auth/session), for the OpenAPI document.
import * as z from 'zod/mini';
import { ROLES } from './caller.ts';

export const accountChoiceSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES as ['viewer', 'billing', 'owner']),
});

export const sessionViewSchema = z.strictObject({
  email: z.string(),
  account: z.nullable(accountChoiceSchema),
  accounts: z.array(accountChoiceSchema),
});
