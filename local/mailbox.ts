// The local mail catcher's page (`/__local/mailbox`): every email the local stack would have sent through SES,
// newest first, as its plain-text version with the links made clickable (sign-in and top-up links work from
// here). The same emails as JSON, with their HTML: `GET /__local/mail` (x-admin-key). The page is served to
// loopback clients only: it shows what the emails carry (links that sign in), and the local stack may be
// bound to another interface.
import type { IncomingMessage } from 'node:http';
import type { ApiResult } from '#shared/http/api.ts';
import { escapeHtml, htmlPage } from '#shared/http/html.ts';
import { type CaughtEmail, caughtMail } from '#shared/notifications/mailer.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export function fromLoopback(request: IncomingMessage): boolean {
  return LOOPBACK.has(request.socket.remoteAddress ?? '');
}

/** Escaped text with its http(s) URLs as links (the URL is escaped too, both as text and as the href). */
function linkified(text: string): string {
  return text
    .split(/(https?:\/\/[^\s<>"']+)/)
    .map((part, index) =>
      index % 2 === 1
        ? `<a href="${escapeHtml(part)}" rel="noreferrer">${escapeHtml(part)}</a>`
        : escapeHtml(part),
    )
    .join('');
}

function mailHtml(mail: CaughtEmail): string {
  return `<article aria-labelledby="${escapeHtml(mail.id)}"><h2 id="${escapeHtml(mail.id)}">${escapeHtml(mail.subject)}</h2><p>To ${escapeHtml(mail.to.join(', '))} · ${escapeHtml(mail.sent_at)} · <code style="display:inline;padding:0 .25rem">${escapeHtml(mail.event)}</code></p><pre style="white-space:pre-wrap;background:#f4f4f4;padding:.75rem">${linkified(mail.text)}</pre></article>`;
}

export function mailboxPage(): ApiResult {
  const mail = caughtMail();
  const body =
    mail.length === 0
      ? '<p>No email yet. Emails the local stack sends (notifications, receipts) appear here.</p>'
      : `<p>${mail.length} email${mail.length === 1 ? '' : 's'}, newest first. Reload to see new ones.</p>${mail.map(mailHtml).join('')}`;
  return htmlPage('Local mailbox', body);
}
