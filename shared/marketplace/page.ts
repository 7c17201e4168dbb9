// The pages a buyer sees after the registration form POST: the billing token shown once, or what went wrong.
import type { ApiResult } from '../http/api.ts';
import { escapeHtml, htmlPage } from '../http/html.ts';
import type { Registration } from './registration.ts';

/** What a replayed registration form is told: the token was shown once, and how to get another. */
export const ALREADY_USED_MESSAGE =
  'This AWS Marketplace registration link was already used, and the billing token it issued was shown then, only once. ' +
  'Use that token; create more with POST /v1/tokens (or in the dashboard) using any billing token of the account; ' +
  'if none is left, open the product again from your AWS Marketplace subscriptions for a new registration link, or ask the operator.';

/**
 * The way to the dashboard's sign-in: `dashboard` is its origin (`https://d123.cloudfront.net`), or '' when
 * the dashboard is served on this page's own origin (locally).
 */
function signInLink(dashboard: string): string {
  const href = `${dashboard}/`;
  return `<p><a href="${escapeHtml(href)}">Open the billing dashboard</a>${dashboard ? ` (${escapeHtml(dashboard)})` : ''} and sign in with your billing token to see your usage and manage tokens.</p>`;
}

export function registeredPage(registration: Registration, dashboard = ''): ApiResult {
  if (registration.token === null) {
    return htmlPage(
      'Registration link already used',
      `<p role="status">${escapeHtml(ALREADY_USED_MESSAGE)}</p><p>Account: <strong>${escapeHtml(registration.account_id)}</strong></p>${signInLink(dashboard)}`,
    );
  }
  const contract = registration.billing_mode === 'marketplace_contract';
  const intro = registration.created
    ? contract
      ? '<p>Your account is ready. The credits your AWS Marketplace contract entitles you to are in its balance, and usage is debited from them; buy more, or upgrade, through AWS Marketplace.</p>'
      : '<p>Your account is ready. Usage is billed through your AWS Marketplace subscription.</p>'
    : '<p>Welcome back: this AWS account already has an account with us, so it was linked and a new billing token was issued. Your earlier tokens keep working; revoke any you no longer use with <code>DELETE /v1/tokens/{id}</code>.</p>';
  const inactive =
    contract ||
    registration.subscription_status === 'active' ||
    registration.subscription_status === 'cancel_pending'
      ? ''
      : `<p role="alert">Your AWS Marketplace subscription is not active (${escapeHtml(registration.subscription_status.replaceAll('_', ' '))}): API calls are refused until you subscribe again.</p>`;
  return htmlPage(
    'AWS Marketplace registration complete',
    `${intro}${inactive}<p>Account: <strong>${escapeHtml(registration.account_id)}</strong></p>
<p>Your billing token (shown only this once; store it now):</p><code>${escapeHtml(registration.token)}</code>
<p>Send it as <code>Authorization: Bearer &lt;token&gt;</code>.</p>${signInLink(dashboard)}`,
    registration.created ? 201 : 200,
  );
}

export function registrationErrorPage(message: string, status: number): ApiResult {
  return htmlPage(
    status < 500 ? 'Registration failed' : 'Registration unavailable',
    `<p role="alert">${escapeHtml(message)}</p><p>Open the product again from your AWS Marketplace subscriptions to get a new registration link.</p>`,
    status,
  );
}
