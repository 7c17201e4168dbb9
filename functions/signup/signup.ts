// POST /auth/signup: self-serve sign-up (when the operator turned it on, else 404): emails a link that opens a
// prepaid account (shared/auth/signup.ts). Answers 202 whatever the address; rate limited like sign-in.
import * as z from 'zod/mini';
import { requestSignup } from '#shared/auth/signup.ts';
import { config } from '#shared/config.ts';
import { NotFoundError } from '#shared/errors.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf } from '#shared/http/middleware.ts';

export const signupBody = z.strictObject({
  email: z.pipe(z.string().check(z.trim(), z.toLowerCase()), z.email().check(z.maxLength(320))),
  name: z.string().check(z.trim(), z.minLength(1), z.maxLength(200)),
});

export const signupAnswer = z.object({ status: z.literal('sent') });

const signup = apiRoute({ auth: 'none', body: signupBody }, async (event, context) => {
  await requestSignup(bodyOf<z.infer<typeof signupBody>>(context), event.requestContext.http.sourceIp);
  const answer: z.output<typeof signupAnswer> = { status: 'sent' };
  return json(202, answer);
});

const notEnabled = apiRoute({ auth: 'none' }, async () => {
  throw new NotFoundError('Not found');
});

export const handler = byRoute({
  // Decided before the body is read: a deployment without sign-up answers as if the route did not exist.
  'POST /auth/signup': (event, context) => (config.selfSignup ? signup : notEnabled)(event, context),
});
