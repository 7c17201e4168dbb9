// POST /marketplace/register: AWS Marketplace's form POST (x-amzn-marketplace-token). Answers an HTML page
// with the billing token shown once, or `{account_id, token}` for `accept: application/json`; a registration
// token used before answers 200 with no token (`token: null` and a `message` saying how to get one).
import * as z from 'zod/mini';
import { errorResponse } from '#shared/errors.ts';
import { header, json } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { ALREADY_USED_MESSAGE, registeredPage, registrationErrorPage } from '#shared/marketplace/page.ts';
import { RegistrationTokenError, registerBuyer } from '#shared/marketplace/registration.ts';
import { dashboardUrl } from '#shared/payments/dashboard-url.ts';

const TOKEN_FIELD = 'x-amzn-marketplace-token';

/** The form POST AWS Marketplace sends (a JSON body with the same field is accepted too). */
export const registrationForm = z.object({ [TOKEN_FIELD]: z.string().check(z.maxLength(4096)) });

/** The `accept: application/json` answer; the page shows the same. */
export const registeredAnswer = z.object({
  account_id: z.string(),
  /** `marketplace_contract` when the buyer's contract funds the account (its credits already granted). */
  billing_mode: z.enum(['marketplace', 'marketplace_contract']),
  /** A new `billing` token, shown once; null when this registration token was used before. */
  token: z.nullable(z.string()),
  /** Only when `token` is null: how to get a token instead. */
  message: z.optional(z.string()),
  /** False when the buyer already had an account: it was linked, and the token joins the earlier ones. */
  created: z.boolean(),
  subscription_status: z.enum(['active', 'cancel_pending', 'cancelled', 'failed']),
});

function registrationToken(body: string, contentType: string): string | undefined {
  if (contentType.includes('application/json')) {
    try {
      const value = (JSON.parse(body) as Record<string, unknown>)[TOKEN_FIELD];
      return typeof value === 'string' ? value : undefined;
    } catch {
      return undefined;
    }
  }
  return new URLSearchParams(body).get(TOKEN_FIELD) ?? undefined;
}

export const handler = apiRoute({ auth: 'none' }, async (event) => {
  const wantsJson = (header(event, 'accept') ?? '').includes('application/json');
  const body = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8').toString('utf8');
  try {
    const token = registrationToken(body, header(event, 'content-type') ?? '')?.trim();
    if (!token || token.length > 4096) {
      throw new RegistrationTokenError(
        `The form has no ${TOKEN_FIELD}: open the product from AWS Marketplace`,
      );
    }
    const registration = await registerBuyer(token);
    if (wantsJson) {
      const answer: z.output<typeof registeredAnswer> = {
        account_id: registration.account_id,
        billing_mode: registration.billing_mode,
        token: registration.token,
        created: registration.created,
        subscription_status: registration.subscription_status,
        ...(registration.token === null ? { message: ALREADY_USED_MESSAGE } : {}),
      };
      return json(registration.created ? 201 : 200, answer);
    }
    // The dashboard's own URL when this deployment names one (never throws), else this origin's.
    return registeredPage(registration, (await dashboardUrl()) ?? '');
  } catch (error) {
    if (wantsJson) throw error;
    const { status, body: answer } = errorResponse(error);
    if (status >= 500) throw error;
    return registrationErrorPage(answer.error, status);
  }
});
