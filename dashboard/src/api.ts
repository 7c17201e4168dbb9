// Dashboard: the only module that talks to the billing API (same origin), and the one place that turns its
// errors into sentences a customer can act on.

const TOKEN_KEY = 'credits-billing.token';

/** The token lives in session storage only: it is gone when the tab closes, and never in a cookie. */
export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

export type Problem = { field: string; problem: string };

/** Anything the API refused, or a request that never got an answer (`status` 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Problem[];
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, details: Problem[], requestId: string | null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}

/** Raised on a 401 so the app can send the customer back to the sign-in form. */
export type UnauthorizedListener = (error: ApiError) => void;
let onUnauthorized: UnauthorizedListener = () => {};
export function whenUnauthorized(listener: UnauthorizedListener): void {
  onUnauthorized = listener;
}

type Options = { body?: unknown; idempotencyKey?: string; token?: string };

export async function api<T>(method: string, path: string, options: Options = {}): Promise<T> {
  const token = options.token ?? session.token();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(
      0,
      'network_error',
      'The billing service could not be reached. Check your connection and try again.',
      [],
      null,
    );
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (response.ok) return body as T;
  const error = errorFrom(response, body);
  if (error.status === 401 && !options.token) onUnauthorized(error);
  throw error;
}

function errorFrom(response: Response, body: unknown): ApiError {
  const shaped = (body ?? {}) as { error?: unknown; code?: unknown; details?: unknown };
  const code = typeof shaped.code === 'string' ? shaped.code : `http_${response.status}`;
  const given = typeof shaped.error === 'string' ? shaped.error : '';
  const details = Array.isArray(shaped.details) ? (shaped.details as Problem[]) : [];
  return new ApiError(
    response.status,
    code,
    explain(response.status, code, given),
    details,
    response.headers.get('x-request-id'),
  );
}

/** The sentence shown for a refusal: the contract's codes in plain words, else the API's own message. */
function explain(status: number, code: string, given: string): string {
  switch (code) {
    case 'unauthorized':
      return 'Your token was not accepted: it is unknown, mistyped or revoked. Sign in again with a valid billing token.';
    case 'forbidden':
      return 'This token may not do that: this page needs a token with the billing scope.';
    case 'subscription_inactive':
      return 'Your AWS Marketplace subscription is not active. Renew it in the AWS console to use the API again.';
    case 'insufficient_credits':
      return 'Your balance is too low for this. Buy credits to continue.';
    case 'spend_limit_reached':
      return "This month's spend limit is reached. Raise or remove the limit to continue.";
    case 'no_payment_method':
      return 'No payment method is saved yet: buy credits once by card or PayPal to save a method, then enable auto-refill.';
    case 'wrong_billing_mode':
      return 'This setting applies to postpaid accounts only.';
    case 'not_found':
      return given && given !== 'Not found' ? `${given}.` : 'That was not found: it may have been removed.';
    case 'rate_limited':
      return 'Too many requests just now. Wait a few seconds and try again.';
  }
  if (status === 402) return given || 'Payment required: buy credits to continue.';
  if (status >= 500) return 'The billing service had a problem. Try again in a moment.';
  return given || `The request failed (HTTP ${status}).`;
}

/** A fresh key per money-moving intent; a retry of the same intent reuses it. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

// The contract's shapes, as far as the dashboard reads them.
export type BillingMode = 'prepaid' | 'postpaid' | 'marketplace';
export type Credits = {
  balance: number;
  available: number;
  held?: number;
  currency: 'USD';
  billing_mode: BillingMode;
  period?: string;
  period_usage?: number;
  monthly_spend_limit?: number | null;
};
export type UsageBucket = {
  period_start: string;
  cost: number;
  requests: number;
  by_feature: Record<string, number>;
};
export type Usage = { step: string; data: UsageBucket[] };
export type Transaction = {
  id: string;
  type: string;
  amount: number;
  balance_after: number;
  created_at: string;
  request_id?: string;
  token_id?: string;
  feature?: string;
  reference?: string;
};
export type Page<T> = { data: T[]; next_cursor?: string | null };
export type Token = {
  id: string;
  name: string;
  scopes: string[];
  prefix: string;
  created_at: string;
  last_used_at?: string | null;
};
export type CreatedToken = {
  id: string;
  token: string | null;
  name: string;
  scopes: string[];
  created_at: string;
};
export type PurchaseStatus = 'pending' | 'paid' | 'failed' | 'expired';
export type Purchase = {
  purchase_id: string;
  amount: number;
  status: PurchaseStatus;
  payment_method_type?: string;
  credited_at?: string;
  created_at?: string;
};
export type Checkout = { purchase_id: string; checkout_url: string; status: 'pending' };
export type PaymentMethod = { type: string; brand?: string; last4?: string };
export type AutoRefill = {
  enabled: boolean;
  threshold: number | null;
  amount: number | null;
  monthly_cap: number | null;
  status: 'active' | 'suspended' | 'off';
  suspended_reason?: string;
  payment_method: PaymentMethod | null;
  safeguards?: {
    consecutive_failures: number;
    attempts_last_10_minutes: number;
    refilled_this_month: number;
  };
  last_attempt?: {
    at: string;
    amount: number;
    outcome: string;
    reason?: string;
    top_up_url?: string;
  };
};
export type Invoice = {
  id: string;
  period: string;
  amount: number;
  status: string;
  due_date: string;
  hosted_invoice_url?: string;
};
