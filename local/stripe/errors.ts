// Stripe emulator: errors in Stripe's shape (`{"error": {"type", "code", "message", "param", ...}}`) with
// Stripe's HTTP statuses, so the SDK raises the same classes it raises against api.stripe.com.
import type Stripe from 'stripe';

export type StripeErrorBody = Pick<
  Stripe.StripeRawError,
  | 'type'
  | 'code'
  | 'decline_code'
  | 'message'
  | 'param'
  | 'payment_intent'
  | 'payment_method'
  | 'charge'
  | 'doc_url'
  | 'advice_code'
>;

export class StripeApiError extends Error {
  override readonly name = 'StripeApiError';
  readonly status: number;
  readonly body: StripeErrorBody;

  constructor(status: number, body: StripeErrorBody) {
    super(body.message);
    this.status = status;
    this.body = body;
  }
}

function docUrl(code: string | undefined): { doc_url?: string } {
  return code ? { doc_url: `https://docs.stripe.com/error-codes/${code.replaceAll('_', '-')}` } : {};
}

export function invalidRequest(
  message: string,
  options: { param?: string; code?: string; status?: number; detail?: string } = {},
): StripeApiError {
  return new StripeApiError(options.status ?? 400, {
    type: 'invalid_request_error',
    message: options.detail ? `${message} ${options.detail}` : message,
    ...(options.code ? { code: options.code } : {}),
    ...(options.param ? { param: options.param } : {}),
    ...docUrl(options.code),
  });
}

const nouns: Record<string, string> = {
  customer: 'customer',
  payment_method: 'PaymentMethod',
  payment_intent: 'payment_intent',
  charge: 'charge',
  refund: 'refund',
  dispute: 'dispute',
  'checkout.session': 'checkout.session',
  invoice: 'invoice',
  invoiceitem: 'invoiceitem',
  event: 'event',
};

/** Stripe's 404 for an unknown id in the path, or a 400 naming the parameter when the id came in a param. */
export function resourceMissing(kind: keyof typeof nouns, id: string, param?: string): StripeApiError {
  return invalidRequest(`No such ${nouns[kind]}: '${id}'`, {
    code: 'resource_missing',
    status: param ? 400 : 404,
    ...(param ? { param } : {}),
  });
}

export function idempotencyError(key: string): StripeApiError {
  return new StripeApiError(400, {
    type: 'idempotency_error',
    message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
  });
}

export function authenticationError(message: string): StripeApiError {
  return new StripeApiError(401, { type: 'invalid_request_error', message });
}

export type Decline = { code: string; decline_code?: string; message: string };

export function cardError(
  decline: Decline,
  related: Pick<StripeErrorBody, 'payment_intent' | 'payment_method' | 'charge'> = {},
): StripeApiError {
  return new StripeApiError(402, {
    type: 'card_error',
    code: decline.code,
    ...(decline.decline_code ? { decline_code: decline.decline_code } : {}),
    message: decline.message,
    ...related,
    ...docUrl(decline.code),
  });
}

/** The JSON a failed API request answers. */
export function errorPayload(error: StripeApiError, requestId: string): string {
  return JSON.stringify(
    { error: { ...error.body, request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}` } },
    null,
    2,
  );
}
