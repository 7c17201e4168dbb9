// The HTTP contract of every public route in the route table: what it takes and what it answers, named by
// the zod schemas the handlers validate with and build their answers from (never written a second time).
// infra/openapi/document.ts turns this table and the route table into the OpenAPI document; a test proves
// both tables name the same routes.

import * as z from 'zod/mini';
import { auditQuery } from '#functions/account/audit.ts';
import { memberChanges, memberPath, newMember } from '#functions/account/members.ts';
import { newToken, tokenChanges } from '#functions/account/tokens.ts';
import { transactionsQuery } from '#functions/account/transactions.ts';
import { usageQuery } from '#functions/account/usage.ts';
import { testEventAnswer } from '#functions/account/webhook-endpoints.ts';
import {
  accountPath,
  balanceShards,
  billingMode,
  createdAccount,
  creditChange,
  creditEntry,
  newAccount,
} from '#functions/admin/accounts.ts';
import { contractPath, contractSchema, reconciliationQuery } from '#functions/admin/marketplace.ts';
import { newServiceKey, serviceKeyPath } from '#functions/admin/service-keys.ts';
import { accountSwitch, sessionViewSchema, signInAccepted, signInRequest } from '#functions/auth/auth.ts';
import { settings } from '#functions/billing/auto-refill.ts';
import { returnQuery } from '#functions/billing/checkout-return.ts';
import { checkout, purchasePath } from '#functions/billing/purchases.ts';
import { spendLimit } from '#functions/billing/spend-limit.ts';
import { echoBody, echoResults } from '#functions/demo/echo.ts';
import { wordsBody, wordsResults } from '#functions/demo/words.ts';
import { registeredAnswer, registrationForm } from '#functions/marketplace/register.ts';
import { signupAnswer, signupBody } from '#functions/signup/signup.ts';
import { signatureRefusal, webhookAnswer } from '#functions/webhooks/stripe.ts';
import { postpaidSchema } from '#shared/accounts/billing-mode.ts';
import { creditsSchema, operatorAccountSchema } from '#shared/accounts/service.ts';
import { auditPageSchema } from '#shared/audit/trail.ts';
import { autoRefillSchema } from '#shared/auto-refill/settings.ts';
import { transactionPageSchema } from '#shared/ledger/history.ts';
import { reconciliationSchema } from '#shared/marketplace/reconcile.ts';
import { memberSchema } from '#shared/members/service.ts';
import {
  holdPath,
  meterCallBody,
  meterChargeAnswer,
  meterHoldAnswer,
  meterReleaseAnswer,
  meterSettleAnswer,
  meterSettleBody,
} from '#shared/metering/meter-api.ts';
import { paidAnswerSchema } from '#shared/metering/metered.ts';
import { priceListSchema } from '#shared/metering/prices.ts';
import {
  notificationSettingsBody,
  notificationSettingsSchema,
  notificationSettingsWithStatusSchema,
} from '#shared/notifications/settings.ts';
import { checkoutSchema } from '#shared/payments/checkout.ts';
import { purchaseSchema } from '#shared/payments/purchases.ts';
import { invoiceSchema } from '#shared/postpaid/invoices.ts';
import { createdServiceKeySchema, serviceKeySchema } from '#shared/service-keys/service.ts';
import { createdTokenSchema, tokenSchema } from '#shared/tokens/service.ts';
import { usageSchema } from '#shared/usage/query.ts';
import { deliverySchema } from '#shared/webhook-endpoints/deliveries.ts';
import {
  createdWebhookEndpointSchema,
  newWebhookEndpoint,
  webhookEndpointChanges,
  webhookEndpointPath,
  webhookEndpointSchema,
} from '#shared/webhook-endpoints/endpoints.ts';

export type Schema = z.core.$ZodType;

/** One answer a route gives: a JSON body, an HTML page, both (chosen by `accept`), or no body. */
export type Answer = { description: string; json?: Schema; html?: true };

export type Tag =
  | 'Paid features'
  | 'Metering API'
  | 'Account'
  | 'Billing'
  | 'Prices'
  | 'Operator'
  | 'Integrations'
  | 'Sign-in'
  | 'Reference';

export type Operation = {
  tag: Tag;
  summary: string;
  description?: string;
  /** Authorised by the dashboard's session cookie (checked inside the function), not by a bearer token. */
  session?: boolean;
  /** Token routes: the scope the bearer token needs (`billing` includes `api`). */
  scope?: 'api' | 'billing';
  path?: Schema;
  query?: Schema;
  /** A JSON request body, or (`form`) an `application/x-www-form-urlencoded` one. */
  body?: Schema;
  form?: Schema;
  /**
   * Takes `Idempotency-Key`: a replay answers the first response; 409 for another body under the same key.
   * `required`: a request without one is a 400.
   */
  idempotent?: boolean | 'required';
  /** A metered call: charged, refused with 402 when the account cannot pay, `x-credits-remaining` on 200. */
  paid?: boolean;
  /**
   * A metered proxy route: charged like `paid`, and answering its upstream's 2xx and 4xx as they came (any
   * content type: described loosely, the gateway cannot know the upstream's schema), 502/504 when it fails.
   * With `idempotent`, a replay of an answer too large to keep is a 409 `idempotency_answer_too_large`.
   */
  proxied?: boolean;
  /** Charges or holds for a customer: the 402/403 refusals of a metered call, without its header. */
  charges?: boolean;
  /** Its own answers by status, success and refusals alike; they replace the error answers derived for it. */
  answers: Record<number, Answer>;
  /** Refusal codes beyond those every route of its kind can give (see `errorCodes` in the document builder). */
  refusals?: Partial<Record<number, string[]>>;
};

/** What `Idempotency-Key` does on a proxy route (shared/proxy/handler.ts, shared/idempotency/middleware.ts). */
const proxyReplays =
  ' With `Idempotency-Key` (scoped to the account and the route; the same request is the same method, path, ' +
  'query and body bytes): a retry answers the first answer (status, body byte for byte, `content-type`, ' +
  '`x-cost`) without calling the upstream again, so it is charged once; a 5xx/502/504 is not kept, so its ' +
  'retry forwards again. An answer whose body is above 300 KB as stored (base64 when binary) is charged once ' +
  'but not kept: its replay is 409 `idempotency_answer_too_large` with `original_status`, and `x-cost` ' +
  'and `x-request-id` of the first answer.';

const idParameter = z.object({ id: z.string() });
const list = <T extends Schema>(item: T) => z.object({ data: z.array(item) });

/** Keyed by the route table's route key (`routeKey()`); routes outside the document are listed there. */
export const operations: Record<string, Operation> = {
  'POST /v1/demo/echo': {
    tag: 'Paid features',
    summary: 'Echo the text back (reference fixed-price feature)',
    description: 'Priced by the catalog feature `echo` (0.002 USD a call by default).',
    scope: 'api',
    body: echoBody,
    idempotent: true,
    paid: true,
    answers: { 200: { description: 'The results and the USD charged', json: paidAnswerSchema(echoResults) } },
  },
  'POST /v1/demo/words': {
    tag: 'Paid features',
    summary: 'Count the words of the text (reference per-unit feature)',
    description:
      'Priced per word by the catalog feature `words`: an estimate (length / 2 words, at least 1) is held ' +
      'before the call and the actual count settled after.',
    scope: 'api',
    body: wordsBody,
    idempotent: true,
    paid: true,
    answers: {
      200: { description: 'The results and the USD charged', json: paidAnswerSchema(wordsResults) },
    },
  },
  'POST /v1/sample/translate': {
    tag: 'Paid features',
    summary: 'Translate the text (sample metered proxy route, local stack)',
    description:
      'Forwarded to the sample upstream’s `POST /translate` and priced by the catalog feature ' +
      '`sample_translate` (0.005 USD a call by default), charged only when the upstream answers 2xx. Body ' +
      '`{"text", "to"}` → `{"translation", "to", "cost"}`; `"fail": 400..599` and `"delay_ms"` make the ' +
      'sample fail or wait. Deployed stacks serve it only when the upstream `sample` is configured.' +
      proxyReplays,
    scope: 'api',
    idempotent: true,
    proxied: true,
    answers: {},
  },
  'POST /v1/sample/complete': {
    tag: 'Paid features',
    summary: 'Complete the prompt (sample metered proxy route, priced per token)',
    description:
      'Forwarded to the sample upstream’s `POST /complete` and priced per `token` by the catalog feature ' +
      '`sample_complete`: `max_quantity` × unit price is held before forwarding, and a 2xx answer is charged ' +
      'for the `x-usage-quantity` the upstream reports (words in `prompt` + `max_tokens`). Body ' +
      '`{"prompt", "max_tokens": 1..4096}` → `{"completion", "cost"}`.' +
      proxyReplays,
    scope: 'api',
    idempotent: true,
    proxied: true,
    answers: {},
  },
  'GET /v1/credits': {
    tag: 'Account',
    summary: 'Balance, available balance and billing mode',
    description: 'Postpaid accounts add the current period, its usage and the monthly spend limit.',
    scope: 'api',
    answers: { 200: { description: 'The account’s credits', json: creditsSchema } },
  },
  'GET /v1/usage': {
    tag: 'Account',
    summary: 'Cost and requests per day, week, month or year',
    description:
      'Defaults: the 30 days up to today, by day. Usage is summed from the ledger a few seconds after each ' +
      'call (typically under a second), so a call made just before may not be counted yet; ' +
      '`GET /v1/transactions` and `GET /v1/credits` are exact at once.',
    scope: 'api',
    query: usageQuery,
    answers: { 200: { description: 'One bucket per period in the range', json: usageSchema } },
  },
  'GET /v1/transactions': {
    tag: 'Account',
    summary: 'The ledger entries that changed the balance, newest first',
    description:
      '`amount` is signed, so the entries sum to the balance. Pages follow `next_cursor`. Optional filters: `type` and `exclude_type` (comma-separated entry types), `feature`, and `begin`/`end` (YYYY-MM-DD, inclusive, UTC). A filtered page may hold fewer than `limit` entries (even none) while `next_cursor` continues; a cursor is only valid with the filters it was made for. `balance_after` is left out when `type`, `exclude_type`, `feature` or `end` narrows the page. Purchases and auto-refills carry `payment_method` ("Visa •••• 4242") and `receipt_url` when known.',
    scope: 'api',
    query: transactionsQuery,
    answers: { 200: { description: 'A page of entries', json: transactionPageSchema } },
  },
  'GET /v1/audit': {
    tag: 'Account',
    summary: 'The audit trail of billing changes, newest first',
    description:
      "Who (`actor`: a member signed in by email, an API token, or the operator) changed what (`action`, `target`, `details`) and when. Recorded with each change, in its own transaction: purchases started, auto-refill settings, spend limits, tokens created, changed or revoked, notification settings, webhook endpoints, members and roles, and the operator's mode switches, grants, corrections and balance shards. Automatic changes (auto-refill charges) are not listed. Never holds a secret. Pages follow `next_cursor`. A billing token, or an owner's session.",
    scope: 'billing',
    query: auditQuery,
    answers: { 200: { description: 'A page of entries', json: auditPageSchema } },
  },
  'GET /v1/prices': {
    tag: 'Prices',
    summary: 'The public price list, from the price catalog',
    answers: { 200: { description: 'Every priced feature', json: priceListSchema } },
  },
  'POST /v1/tokens': {
    tag: 'Account',
    summary: 'Create an API token (the secret is shown once)',
    scope: 'billing',
    body: newToken,
    idempotent: true,
    answers: { 201: { description: 'The new token, with its secret', json: createdTokenSchema } },
    refusals: { 409: ['too_many_tokens'] },
  },
  'GET /v1/tokens': {
    tag: 'Account',
    summary: 'The account’s active tokens (never their secrets)',
    scope: 'billing',
    answers: { 200: { description: 'Active tokens', json: list(tokenSchema) } },
  },
  'PATCH /v1/tokens/{id}': {
    tag: 'Account',
    summary: 'Change a token: name, spend limit, expiry',
    description:
      'Only the fields sent change; `null` clears the spend limit or the expiry. A limit lowered below what the token spent in its period refuses its next call (402 `token_limit_reached`). A changed `reset` starts the new kind of period now and carries what was spent. Applies at once on the instance that changed it and within 60 seconds elsewhere (a changed limit amount applies everywhere at once).',
    scope: 'billing',
    path: idParameter,
    body: tokenChanges,
    answers: { 200: { description: 'The token as it is now', json: tokenSchema } },
    refusals: { 404: ['not_found'] },
  },
  'DELETE /v1/tokens/{id}': {
    tag: 'Account',
    summary: 'Revoke a token',
    description: 'Refused everywhere within 60 seconds (at once on the instance that revoked it).',
    scope: 'billing',
    path: idParameter,
    answers: { 204: { description: 'Revoked' } },
    refusals: { 404: ['not_found'] },
  },
  'POST /v1/members': {
    tag: 'Account',
    summary: 'Invite a member (an invitation email is sent)',
    description:
      'The address is lower-cased; the member is `invited` until their first sign-in. The invitation email links to the dashboard’s sign-in with the address filled in, where the person asks for a sign-in link (it carries no secret itself). An account has at most 100 members and keeps at least one owner.',
    scope: 'billing',
    body: newMember,
    idempotent: true,
    answers: { 201: { description: 'The invited member', json: memberSchema } },
    refusals: { 409: ['already_member', 'too_many_members'] },
  },
  'GET /v1/members': {
    tag: 'Account',
    summary: 'The account’s members, invited and active',
    scope: 'billing',
    answers: { 200: { description: 'Members, oldest first', json: list(memberSchema) } },
  },
  'PATCH /v1/members/{id}': {
    tag: 'Account',
    summary: 'Change a member’s role',
    description:
      'Applies to the member’s sessions on their next request. The last owner cannot stop being one (409 `last_owner`).',
    scope: 'billing',
    path: memberPath,
    body: memberChanges,
    answers: { 200: { description: 'The member as it is now', json: memberSchema } },
    refusals: { 404: ['not_found'], 409: ['last_owner', 'member_changed'] },
  },
  'DELETE /v1/members/{id}': {
    tag: 'Account',
    summary: 'Remove a member',
    description:
      'Their sessions stop working on their next request, and sign-in no longer offers the account. The last owner cannot be removed (409 `last_owner`).',
    scope: 'billing',
    path: memberPath,
    answers: { 204: { description: 'Removed' } },
    refusals: { 404: ['not_found'], 409: ['last_owner', 'member_changed'] },
  },
  'POST /auth/signup': {
    tag: 'Sign-in',
    summary: 'Self-serve sign-up: email a link that opens a prepaid account',
    description:
      'Only when the operator turned it on (`SELF_SIGNUP=true`; otherwise 404 `not_found`). Answers 202 whatever the address. The emailed link (valid 15 minutes, usable once) opens a prepaid account named `name` with the person as its owner, grants the operator’s sign-up credits (`SIGNUP_CREDITS`) once per email address ever, and signs in. Rate limited with sign-in’s own counters (sign-in and sign-up requests count together): 5 per address and 30 per client in 15 minutes (429 `rate_limited` with `retry-after`).',
    body: signupBody,
    answers: { 202: { description: 'The link was sent', json: signupAnswer } },
    refusals: { 404: ['not_found'], 429: ['rate_limited'] },
  },
  'POST /v1/billing/checkout': {
    tag: 'Billing',
    summary: 'Buy credits: open a Stripe Checkout',
    description: '`return_url` must be on this deployment’s own origin.',
    scope: 'billing',
    body: checkout,
    idempotent: true,
    answers: { 201: { description: 'The purchase and where to pay', json: checkoutSchema } },
    refusals: { 409: ['wrong_billing_mode'] },
  },
  'GET /v1/billing/purchases': {
    tag: 'Billing',
    summary: 'The account’s purchases, newest first',
    scope: 'billing',
    answers: { 200: { description: 'Purchases', json: list(purchaseSchema) } },
  },
  'GET /v1/billing/purchases/{id}': {
    tag: 'Billing',
    summary: 'One purchase (a pending one is followed up with Stripe first)',
    scope: 'billing',
    path: purchasePath,
    answers: { 200: { description: 'The purchase', json: purchaseSchema } },
  },
  'GET /v1/billing/auto-refill': {
    tag: 'Billing',
    summary: 'Auto-refill settings, the payment method on file and the last attempt',
    scope: 'billing',
    answers: { 200: { description: 'The settings and their state', json: autoRefillSchema } },
  },
  'PUT /v1/billing/auto-refill': {
    tag: 'Billing',
    summary: 'Change the auto-refill settings',
    scope: 'billing',
    body: settings,
    answers: { 200: { description: 'The settings saved', json: autoRefillSchema } },
    refusals: { 409: ['no_payment_method', 'wrong_billing_mode'] },
  },
  'PUT /v1/billing/spend-limit': {
    tag: 'Billing',
    summary: 'Set or remove (null) a postpaid account’s monthly spend limit',
    scope: 'billing',
    body: spendLimit,
    answers: { 200: { description: 'The period figures with the new limit', json: postpaidSchema } },
    refusals: { 409: ['wrong_billing_mode'] },
  },
  'GET /v1/notifications': {
    tag: 'Account',
    summary:
      'Who is emailed about the account’s billing, the low-balance alert threshold, and which events email',
    description:
      'An account that never set them has the defaults: no recipients, no low-balance alert, every family on. `status` says when an email was last sent and the last failure (SES throttling is retried; `permanent` failures, such as a rejected address, are not).',
    scope: 'billing',
    answers: {
      200: {
        description: 'The notification settings and their status',
        json: notificationSettingsWithStatusSchema,
      },
    },
  },
  'PUT /v1/notifications': {
    tag: 'Account',
    summary: 'Replace the notification settings',
    description:
      'Up to 10 distinct email addresses; `low_balance_threshold` in USD (null: no low-balance alert), independent of auto-refill’s threshold; every event family on or off.',
    scope: 'billing',
    body: notificationSettingsBody,
    answers: { 200: { description: 'The settings as stored', json: notificationSettingsSchema } },
  },
  'POST /v1/webhook-endpoints': {
    tag: 'Account',
    summary: 'Add a webhook endpoint (its signing secret is shown once)',
    description:
      'Deliveries follow the Standard Webhooks specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`), at least once, retried with backoff for about 27 hours. `events`: types from the event list, or `["*"]` for all. In the cloud only `https` URLs whose host resolves to public addresses only are accepted (400 naming `url` otherwise); redirects are never followed. At most 16 endpoints per account.',
    scope: 'billing',
    body: newWebhookEndpoint,
    idempotent: true,
    answers: { 201: { description: 'The endpoint, with its secret', json: createdWebhookEndpointSchema } },
    refusals: { 409: ['too_many_webhook_endpoints'] },
  },
  'GET /v1/webhook-endpoints': {
    tag: 'Account',
    summary: 'The account’s webhook endpoints (never their secrets), with their health',
    description:
      '`status` is `disabled` once an endpoint failed every attempt for 3 days (`disabled_reason` says so).',
    scope: 'billing',
    answers: { 200: { description: 'Webhook endpoints', json: list(webhookEndpointSchema) } },
  },
  'PATCH /v1/webhook-endpoints/{id}': {
    tag: 'Account',
    summary: 'Re-enable a webhook endpoint (`{"enabled": true}`)',
    description:
      'Deliveries of events from now on resume; those given up while it was disabled are not resent. Enabling an enabled endpoint changes nothing.',
    scope: 'billing',
    path: webhookEndpointPath,
    body: webhookEndpointChanges,
    answers: { 200: { description: 'The endpoint as it is now', json: webhookEndpointSchema } },
    refusals: { 404: ['not_found'] },
  },
  'DELETE /v1/webhook-endpoints/{id}': {
    tag: 'Account',
    summary: 'Delete a webhook endpoint; its pending deliveries stop',
    scope: 'billing',
    path: webhookEndpointPath,
    answers: { 204: { description: 'Deleted' } },
    refusals: { 404: ['not_found'] },
  },
  'GET /v1/webhook-endpoints/{id}/deliveries': {
    tag: 'Account',
    summary: 'The endpoint’s delivery log, newest first (the latest 50)',
    description:
      'One entry per event: `attempts` made so far, the last status code or error, when the next attempt is due, and each attempt in `log`.',
    scope: 'billing',
    path: webhookEndpointPath,
    answers: { 200: { description: 'Deliveries', json: list(deliverySchema) } },
    refusals: { 404: ['not_found'] },
  },
  'POST /v1/webhook-endpoints/{id}/test': {
    tag: 'Account',
    summary: 'Send a `webhook.test` event to this endpoint only',
    scope: 'billing',
    path: webhookEndpointPath,
    answers: { 202: { description: 'Queued; its delivery shows in the log', json: testEventAnswer } },
    refusals: { 404: ['not_found'], 409: ['webhook_endpoint_disabled'] },
  },
  'GET /v1/billing/invoices': {
    tag: 'Billing',
    summary: 'Postpaid invoices, newest first',
    scope: 'billing',
    answers: { 200: { description: 'Invoices', json: list(invoiceSchema) } },
  },
  'POST /v1/meter/charges': {
    tag: 'Metering API',
    summary: 'Charge a customer for a call your own backend served',
    description:
      'Name the customer by the token they sent you (`customer_token`) or by `account_id`. `quantity` for ' +
      'per-unit features (default 1), `amount` for dynamically priced ones (at most the feature’s ' +
      '`max_amount`). The same single transaction as a metered call: charged once per Idempotency-Key ' +
      '(required), refused with 402 and nothing charged when the customer cannot pay.',
    body: meterCallBody,
    idempotent: 'required',
    charges: true,
    answers: { 201: { description: 'The charge', json: meterChargeAnswer } },
    refusals: { 401: ['customer_unauthorized'], 404: ['not_found'], 429: ['rate_limited'] },
  },
  'POST /v1/meter/holds': {
    tag: 'Metering API',
    summary: 'Reserve an upper bound of a call’s cost before doing the work',
    description:
      '`quantity` (per-unit features) or `amount` (dynamic ones). The hold expires (is released) unless ' +
      'settled or released first. Marketplace buyers have no limit to hold against: 409 `wrong_billing_mode`.',
    body: meterCallBody,
    idempotent: 'required',
    charges: true,
    answers: { 201: { description: 'The hold', json: meterHoldAnswer } },
    refusals: {
      401: ['customer_unauthorized'],
      404: ['not_found'],
      409: ['wrong_billing_mode'],
      429: ['rate_limited'],
    },
  },
  'POST /v1/meter/holds/{id}/settle': {
    tag: 'Metering API',
    summary: 'Charge the actual cost of a held call and release the rest',
    description:
      'A cost above the hold is charged when the balance covers it, else capped at the hold (`capped`). ' +
      'Settling again, under any key, answers the same. Naming the customer is optional; another ' +
      'customer’s hold is not found. A hold that expired or was released is settled by charging without it.',
    path: holdPath,
    body: meterSettleBody,
    idempotent: 'required',
    charges: true,
    answers: { 200: { description: 'The charge', json: meterSettleAnswer } },
    refusals: { 401: ['customer_unauthorized'] },
  },
  'POST /v1/meter/holds/{id}/release': {
    tag: 'Metering API',
    summary: 'Give a hold back whole (the work was not done)',
    description: 'A hold already closed answers what it gave back.',
    path: holdPath,
    idempotent: 'required',
    answers: { 200: { description: 'USD returned to the available balance', json: meterReleaseAnswer } },
  },
  'POST /webhooks/stripe': {
    tag: 'Integrations',
    summary: 'Stripe’s signed events',
    description:
      'Called by Stripe, not by customers: verified on the raw body with the `stripe-signature` header; a bad ' +
      'or stale signature is a 400 with nothing changed.',
    answers: {
      200: { description: 'Processed, or processed before', json: webhookAnswer },
      400: { description: 'The signature is missing, forged or stale', json: signatureRefusal },
    },
  },
  'GET /billing/return': {
    tag: 'Integrations',
    summary:
      'Where Stripe sends the customer after paying: a page saying whether the credits arrived, with a link back to the dashboard view it started from',
    query: returnQuery,
    answers: {
      200: { description: 'Paid (credits on the account) or still pending', html: true },
      400: { description: 'The link does not name a payment', html: true },
      404: { description: 'No purchase of this deployment has this checkout session', html: true },
    },
  },
  'POST /marketplace/register': {
    tag: 'Integrations',
    summary: 'AWS Marketplace buyers land here: the account and its first billing token, shown once',
    description:
      'AWS Marketplace’s form POST. Answers an HTML page, or JSON with `accept: application/json`; refusals ' +
      'below 500 are pages too unless JSON was asked for.',
    form: registrationForm,
    answers: {
      200: { description: 'An existing buyer, linked', json: registeredAnswer, html: true },
      201: { description: 'A new account', json: registeredAnswer, html: true },
    },
    refusals: { 400: ['invalid_registration_token'], 503: ['marketplace_unavailable'] },
  },
  'POST /admin/accounts': {
    tag: 'Operator',
    summary: 'Open a prepaid account with its first billing token (shown once)',
    body: newAccount,
    idempotent: true,
    answers: { 201: { description: 'The account and its token', json: createdAccount } },
  },
  'GET /admin/accounts/{id}': {
    tag: 'Operator',
    summary: 'An account: balance, mode and settings',
    path: accountPath,
    answers: { 200: { description: 'The account', json: operatorAccountSchema } },
  },
  'POST /admin/accounts/{id}/credits': {
    tag: 'Operator',
    summary: 'Grant credits (positive) or correct them (negative)',
    description: 'A prepaid balance is never corrected below zero (409 `insufficient_balance`).',
    path: accountPath,
    body: creditChange,
    idempotent: true,
    answers: { 201: { description: 'The ledger entry', json: creditEntry } },
    refusals: { 409: ['insufficient_balance'] },
  },
  'PUT /admin/accounts/{id}/billing': {
    tag: 'Operator',
    summary: 'Move an account between prepaid and postpaid',
    path: accountPath,
    body: billingMode,
    description:
      'A prepaid account with more than one balance shard moves to postpaid only after its count is set to 1 (409 `wrong_billing_mode`).',
    answers: { 200: { description: 'The account', json: operatorAccountSchema } },
    refusals: { 409: ['wrong_billing_mode'] },
  },
  'PUT /admin/accounts/{id}/balance-shards': {
    tag: 'Operator',
    summary: "Split a hot prepaid account's spendable balance across 1–32 balance items",
    description:
      'Each balance shard is its own DynamoDB item in its own partition, so one account can take more charges ' +
      'per second. A charge tries one shard, then others, moving credit between shards when no single one can ' +
      'pay; it is refused (402) only when the account as a whole cannot pay. Raising creates the new shards and ' +
      'spreads the credit; lowering moves the credit of the removed shards back, in one transaction; the same ' +
      'count again recreates a missing shard. Balances read (`GET /v1/credits`, this view) are the sum of the ' +
      'shards. Postpaid and Marketplace accounts: 409 `wrong_billing_mode`.',
    path: accountPath,
    body: balanceShards,
    answers: { 200: { description: 'The account, with `balance_shards`', json: operatorAccountSchema } },
    refusals: { 409: ['wrong_billing_mode'] },
  },
  'POST /admin/service-keys': {
    tag: 'Operator',
    summary: 'Create a service key for the metering API (the secret is shown once)',
    body: newServiceKey,
    idempotent: true,
    answers: { 201: { description: 'The key, with its secret', json: createdServiceKeySchema } },
  },
  'GET /admin/service-keys': {
    tag: 'Operator',
    summary: 'Active service keys (never their secrets)',
    answers: { 200: { description: 'Active keys', json: list(serviceKeySchema) } },
  },
  'DELETE /admin/service-keys/{id}': {
    tag: 'Operator',
    summary: 'Revoke a service key',
    description: 'Refused everywhere within 60 seconds (at once on the instance that revoked it).',
    path: serviceKeyPath,
    answers: { 204: { description: 'Revoked' } },
  },
  'GET /admin/marketplace/reconciliation': {
    tag: 'Operator',
    summary: 'Units reported to AWS Marketplace against the ledger, per buyer, to the unit',
    query: reconciliationQuery,
    answers: { 200: { description: 'The reconciliation', json: reconciliationSchema } },
  },
  'GET /admin/marketplace/contracts/{id}': {
    tag: 'Operator',
    summary: 'An AWS Marketplace contract buyer: what its contracts entitle, what was granted, downgrades',
    description:
      'One line per contract (licence and end) and credit dimension. A downgrade grants nothing and takes ' +
      'nothing back: it is recorded here (`downgraded_at`, `downgraded_to`) for the operator to act on. ' +
      'Accounts in another billing mode: 409 `wrong_billing_mode`.',
    path: contractPath,
    answers: { 200: { description: 'The contract', json: contractSchema } },
    refusals: { 404: ['not_found'], 409: ['wrong_billing_mode'] },
  },
  'POST /auth/email': {
    tag: 'Sign-in',
    summary: 'Email a sign-in link to a member (202 whatever the address: no one learns who is a member)',
    description:
      'A member of some account gets a link valid 15 minutes, usable once. Rate limited: 5 requests per ' +
      'address and 30 per client IP per 15 minutes (429 `rate_limited` with `retry-after`, and no email).',
    body: signInRequest,
    answers: {
      202: { description: 'Accepted; a link is on its way if the address is a member', json: signInAccepted },
    },
    refusals: { 429: ['rate_limited'] },
  },
  'GET /auth/callback': {
    tag: 'Sign-in',
    summary: 'The emailed link: sets the session cookie and redirects to the dashboard',
    description:
      'The cookie is `HttpOnly; SameSite=Strict; Path=/` (`__Host-` prefixed and `Secure` when deployed). An ' +
      'expired, used or invalid link gets a page saying so, with a way to ask for a new one.',
    query: z.object({ token: z.string() }),
    answers: {
      302: { description: 'Signed in: `set-cookie` carries the session, `location` the dashboard' },
      400: { description: 'The link is not valid', html: true },
      403: { description: 'The address is no longer a member of any account', html: true },
      410: { description: 'The link expired (15 minutes) or was already used', html: true },
    },
  },
  'POST /auth/logout': {
    tag: 'Sign-in',
    summary: 'End the session (its cookie is cleared); needs `x-requested-with: credits-dashboard`',
    session: true,
    answers: { 204: { description: 'Signed out' } },
    refusals: { 403: ['forbidden'] },
  },
  'GET /auth/session': {
    tag: 'Sign-in',
    summary: 'Who is signed in, the account the session acts in, and every account of theirs',
    description:
      'Without a live session (no cookie, or one that ended) the answer is 200 with `email: null`, ' +
      '`account: null` and no accounts: signed out is a state the dashboard reads on every load, not an error.',
    session: true,
    answers: { 200: { description: 'The session, or signed out (`email: null`)', json: sessionViewSchema } },
  },
  'PUT /auth/session': {
    tag: 'Sign-in',
    summary: 'Act in another account of the person; needs `x-requested-with: credits-dashboard`',
    session: true,
    body: accountSwitch,
    answers: { 200: { description: 'The session, now in that account', json: sessionViewSchema } },
    refusals: { 401: ['unauthorized'], 403: ['forbidden'], 404: ['not_found'] },
  },
  'GET /openapi.json': {
    tag: 'Reference',
    summary: 'This document',
    answers: {
      200: { description: 'The OpenAPI 3.1 document', json: z.looseObject({ openapi: z.string() }) },
    },
  },
};
