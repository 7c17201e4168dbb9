// The pages a buyer sees after the registration form POST: the billing token shown once, or what went wrong.
import type { ApiResult } from '../http/api.ts';
import type { Registration } from './registration.ts';

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function page(title: string, body: string, status: number): ApiResult {
  return {
    statusCode: status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      // The page carries a secret shown once: never cached, never framed, never leaked in a referrer.
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;line-height:1.5}code{display:block;padding:.75rem;background:#f4f4f4;word-break:break-all}</style></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`,
  };
}

export function registeredPage(registration: Registration): ApiResult {
  const intro = registration.created
    ? '<p>Your account is ready. Usage is billed through your AWS Marketplace subscription.</p>'
    : '<p>Welcome back: this AWS account already has an account with us, so it was linked and a new billing token was issued. Your earlier tokens keep working; revoke any you no longer use with <code>DELETE /v1/tokens/{id}</code>.</p>';
  const inactive =
    registration.subscription_status === 'active' || registration.subscription_status === 'cancel_pending'
      ? ''
      : `<p role="alert">Your AWS Marketplace subscription is not active (${escapeHtml(registration.subscription_status.replaceAll('_', ' '))}): API calls are refused until you subscribe again.</p>`;
  return page(
    'AWS Marketplace registration complete',
    `${intro}${inactive}<p>Account: <strong>${escapeHtml(registration.account_id)}</strong></p>
<p>Your billing token (shown only this once; store it now):</p><code>${escapeHtml(registration.token)}</code>
<p>Send it as <code>Authorization: Bearer &lt;token&gt;</code>.</p>`,
    registration.created ? 201 : 200,
  );
}

export function registrationErrorPage(message: string, status: number): ApiResult {
  return page(
    status < 500 ? 'Registration failed' : 'Registration unavailable',
    `<p role="alert">${escapeHtml(message)}</p><p>Open the product again from your AWS Marketplace subscriptions to get a new registration link.</p>`,
    status,
  );
}
