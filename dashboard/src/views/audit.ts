// Dashboard › Audit: the account's audit trail (GET /v1/audit), newest first: when, who (a member, an API
// token, the operator) and what changed, a page at a time with "Load more". Owners and billing tokens read it.
import type { paths } from '../../../client/openapi.ts';
import { answer, client } from '../api.ts';
import { h } from '../dom.ts';
import { money, when } from '../format.ts';
import { busy, errorBox, loading, page, section, type View, type ViewContext } from '../ui.ts';

type AuditPage = paths['/v1/audit']['get']['responses'][200]['content']['application/json'];
type Entry = AuditPage['data'][number];

const PAGE_SIZE = 25;

const actions: Record<Entry['action'], string> = {
  'purchase.started': 'Started a purchase',
  'auto_refill.changed': 'Changed auto-refill',
  'spend_limit.set': 'Set the spend limit',
  'spend_limit.cleared': 'Removed the spend limit',
  'token.created': 'Created a token',
  'token.changed': 'Changed a token',
  'token.revoked': 'Revoked a token',
  'notifications.changed': 'Changed notification settings',
  'webhook_endpoint.created': 'Added a webhook endpoint',
  'webhook_endpoint.enabled': 'Re-enabled a webhook endpoint',
  'webhook_endpoint.deleted': 'Deleted a webhook endpoint',
  'member.invited': 'Invited a member',
  'member.role_changed': 'Changed a member’s role',
  'member.removed': 'Removed a member',
  'billing_mode.changed': 'Changed the billing mode',
  'credits.granted': 'Granted credits',
  'credits.corrected': 'Corrected credits',
  'balance_shards.changed': 'Changed balance shards',
};

function who(actor: Entry['actor']): string {
  switch (actor.type) {
    case 'member':
      return actor.email;
    case 'token':
      return `API token ${actor.id}`;
    case 'operator':
      return 'Operator';
    case 'system':
      return 'System';
  }
}

/** The one detail that says most about a change, in words: an amount, a name, a URL or a reason. */
function summary(entry: Entry): string {
  const details = (entry.details ?? {}) as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof details.amount === 'number') parts.push(money(details.amount));
  if (typeof details.monthly_spend_limit === 'number') parts.push(money(details.monthly_spend_limit));
  if (typeof details.name === 'string') parts.push(details.name);
  if (typeof details.url === 'string') parts.push(details.url);
  if (typeof details.email === 'string') parts.push(details.email);
  if (typeof details.role === 'string') parts.push(details.role);
  if (typeof details.mode === 'string') parts.push(details.mode);
  if (typeof details.reason === 'string') parts.push(`“${details.reason}”`);
  if (typeof details.to === 'number') parts.push(`${details.from} → ${details.to}`);
  return parts.join(' · ');
}

function row(entry: Entry): HTMLTableRowElement {
  const detail = summary(entry);
  return h(
    'tr',
    {},
    h('td', { class: 'nowrap', title: entry.at }, when(entry.at)),
    h('td', { class: 'wrap' }, who(entry.actor)),
    h('td', { class: 'wrap' }, actions[entry.action] ?? entry.action, detail ? h('br', {}) : null, detail),
  );
}

async function render(context: ViewContext): Promise<void> {
  const results = h('div', {}, loading('the audit trail'));
  page(
    context,
    'Audit',
    section(
      'Changes',
      h(
        'p',
        { class: 'muted' },
        'Every billing change made by a member, an API token or the operator, newest first. Automatic ' +
          'changes, such as auto-refill charges, are not listed.',
      ),
      results,
    ),
  );
  const body = h('tbody', {});
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  let cursor: string | undefined;
  const read = async () => {
    const result = await answer(
      client.GET('/v1/audit', { params: { query: { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } } }),
    );
    if (!context.isCurrent()) return;
    body.append(...result.data.map(row));
    cursor = result.next_cursor ?? undefined;
    more.hidden = !cursor;
  };
  const load = async () => {
    results.replaceChildren(loading('the audit trail'));
    body.replaceChildren();
    cursor = undefined;
    try {
      await read();
      if (!context.isCurrent()) return;
      if (!body.children.length) {
        results.replaceChildren(h('p', { class: 'muted', id: 'audit-empty' }, 'No changes recorded yet.'));
        return;
      }
      results.replaceChildren(
        h(
          'table',
          {},
          h('caption', {}, 'Billing changes, newest first'),
          h(
            'thead',
            {},
            h('tr', {}, ...['When', 'Who', 'What'].map((title) => h('th', { scope: 'col' }, title))),
          ),
          body,
        ),
        more,
      );
    } catch (error) {
      if (context.isCurrent()) results.replaceChildren(errorBox(error, () => void load()));
    }
  };
  more.addEventListener(
    'click',
    () =>
      void busy(more, async () => {
        try {
          await read();
        } catch (error) {
          more.insertAdjacentElement('afterend', errorBox(error));
        }
      }),
  );
  await load();
}

export const audit: View = { id: 'audit', title: 'Audit', shows: () => true, render };
