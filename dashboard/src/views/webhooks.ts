// Dashboard › Webhooks: the account's webhook endpoints (GET /v1/webhook-endpoints) with their health; add one
// (its signing secret is shown once, with a copy button), send it a test event, re-enable a disabled one,
// delete one after confirming, and read each endpoint's delivery log.

import type { paths } from '../../../client/openapi.ts';
import { ApiError, answer, client, newIdempotencyKey, withIdempotencyKey } from '../api.ts';
import { field, h } from '../dom.ts';
import { when } from '../format.ts';
import {
  announce,
  busy,
  confirmDialog,
  errorBox,
  fieldProblem,
  loading,
  page,
  section,
  type View,
  type ViewContext,
} from '../ui.ts';

type Endpoint =
  paths['/v1/webhook-endpoints']['get']['responses'][200]['content']['application/json']['data'][number];
type Created = paths['/v1/webhook-endpoints']['post']['responses'][201]['content']['application/json'];
type EventType = Exclude<
  paths['/v1/webhook-endpoints']['post']['requestBody']['content']['application/json']['events'][number],
  '*'
>;
type Delivery =
  paths['/v1/webhook-endpoints/{id}/deliveries']['get']['responses'][200]['content']['application/json']['data'][number];

const eventTypes: [EventType, string][] = [
  ['credits.balance.low', 'Balance low'],
  ['credits.balance.depleted', 'Balance used up'],
  ['credits.purchase.succeeded', 'Purchase succeeded'],
  ['credits.purchase.failed', 'Purchase failed'],
  ['credits.refund.applied', 'Refund applied'],
  ['credits.granted', 'Credits granted'],
  ['credits.auto_refill.succeeded', 'Auto-refill succeeded'],
  ['credits.auto_refill.failed', 'Auto-refill failed'],
  ['credits.auto_refill.suspended', 'Auto-refill suspended'],
  ['credits.spend_limit.warning', 'Spend limit warning'],
  ['credits.spend_limit.reached', 'Spend limit reached'],
  ['credits.token_limit.reached', 'Token limit reached'],
  ['credits.invoice.paid', 'Invoice paid'],
  ['credits.invoice.payment_failed', 'Invoice payment failed'],
  ['credits.invoice.overdue', 'Invoice overdue'],
];

const slug = (type: string) => type.replace(/[^a-z0-9]+/g, '-');

function eventsText(events: string[]): string {
  return events.includes('*') ? 'All events' : events.join(', ');
}

function health(endpoint: Endpoint): string {
  if (endpoint.status === 'disabled')
    return `Disabled${endpoint.disabled_reason ? `: ${endpoint.disabled_reason}` : ''}. No events are sent to it.`;
  if (endpoint.failing_since) return `Enabled, failing since ${when(endpoint.failing_since)}.`;
  return 'Enabled, delivering.';
}

function revealed(created: Created): HTMLElement {
  const box = h('section', { class: 'card reveal', 'aria-labelledby': 'new-secret-title' });
  box.append(
    h('h2', { id: 'new-secret-title' }, 'Endpoint added'),
    h('p', { class: 'mono wrap' }, created.url),
  );
  if (!created.secret) {
    box.append(h('p', {}, 'Its signing secret was already shown once and cannot be shown again.'));
    return box;
  }
  const secret = h('input', {
    id: 'new-secret',
    readonly: true,
    value: created.secret,
    class: 'mono',
    spellcheck: 'false',
  });
  const copied = h('span', { class: 'muted', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(created.secret ?? '');
      copied.textContent = 'Copied.';
    } catch {
      secret.select();
      copied.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  });
  box.append(
    h(
      'p',
      { class: 'warning' },
      "Copy the signing secret now: you won't see it again. Your server checks each delivery's signature with it.",
    ),
    h('div', { class: 'copy-row' }, field('Signing secret', secret), copy, copied),
  );
  return box;
}

const deliveryStatus: Record<Delivery['status'], string> = {
  pending: 'Pending',
  succeeded: 'Succeeded',
  failed: 'Failed',
};

function deliveryTable(endpoint: Endpoint, data: Delivery[]): HTMLElement {
  if (!data.length) return h('p', { class: 'muted' }, 'No deliveries yet. Send a test event to try it.');
  const headers = ['Event', 'Status', 'Attempts', 'Last answer', 'Next attempt', 'Created'];
  return h(
    'table',
    {},
    h('caption', {}, `Deliveries to ${endpoint.url}, newest first`),
    h('thead', {}, h('tr', {}, ...headers.map((title) => h('th', { scope: 'col' }, title)))),
    h(
      'tbody',
      {},
      ...data.map((delivery) => {
        const cells = [
          delivery.event_type,
          deliveryStatus[delivery.status],
          String(delivery.attempts),
          delivery.last_status_code !== undefined
            ? `HTTP ${delivery.last_status_code}`
            : (delivery.last_error ?? '—'),
          delivery.status === 'pending' ? when(delivery.next_attempt_at) : '—',
          when(delivery.created_at),
        ];
        return h(
          'tr',
          { 'data-delivery-id': delivery.id },
          ...cells.map((text, index) => h('td', { 'data-label': headers[index] }, text)),
        );
      }),
    ),
  );
}

async function drawDeliveries(endpoint: Endpoint, holder: HTMLElement): Promise<void> {
  holder.replaceChildren(loading('deliveries'));
  try {
    const { data } = await answer(
      client.GET('/v1/webhook-endpoints/{id}/deliveries', { params: { path: { id: endpoint.id } } }),
    );
    holder.replaceChildren(deliveryTable(endpoint, data));
  } catch (error) {
    holder.replaceChildren(errorBox(error, () => void drawDeliveries(endpoint, holder)));
  }
}

function endpointCard(context: ViewContext, endpoint: Endpoint, list: HTMLElement): HTMLElement {
  const titleId = `endpoint-${endpoint.id}`;
  const result = h('div', {});
  const log = h('div', { hidden: true });
  const refresh = () => drawList(context, list);
  const button = (label: string, className: string, name: string) =>
    h(
      'button',
      { type: 'button', class: `${className} small`, 'aria-label': `${name} ${endpoint.url}` },
      label,
    );

  const test = button('Send test event', 'secondary', 'Send test event to');
  test.disabled = endpoint.status === 'disabled';
  test.addEventListener('click', () =>
    busy(test, async () => {
      result.replaceChildren();
      try {
        await answer(
          client.POST('/v1/webhook-endpoints/{id}/test', { params: { path: { id: endpoint.id } } }),
        );
        result.replaceChildren(
          h('p', { class: 'success' }, 'Test event queued: its delivery shows in the log below.'),
        );
        announce('Test event queued.');
        log.hidden = false;
        showLog.setAttribute('aria-expanded', 'true');
        await drawDeliveries(endpoint, logBody);
      } catch (error) {
        result.replaceChildren(errorBox(error));
      }
    }),
  );

  const showLog = button('Delivery log', 'secondary', 'Delivery log of');
  showLog.setAttribute('aria-expanded', 'false');
  showLog.setAttribute('aria-controls', `${titleId}-log`);
  log.id = `${titleId}-log`;
  const logBody = h('div', {});
  const reload = button('Refresh log', 'secondary', 'Refresh log of');
  reload.addEventListener('click', () => busy(reload, () => drawDeliveries(endpoint, logBody)));
  log.append(h('div', { class: 'actions' }, reload), logBody);
  showLog.addEventListener('click', () => {
    const open = log.hidden;
    log.hidden = !open;
    showLog.setAttribute('aria-expanded', String(open));
    if (open) void drawDeliveries(endpoint, logBody);
  });

  const remove = button('Delete', 'danger', 'Delete');
  remove.addEventListener('click', async () => {
    if (
      !(await confirmDialog(
        'Delete this endpoint?',
        `${endpoint.url} gets no more events, and deliveries still pending stop. This cannot be undone.`,
        'Delete endpoint',
      ))
    ) {
      remove.focus();
      return;
    }
    await busy(remove, async () => {
      try {
        await answer(client.DELETE('/v1/webhook-endpoints/{id}', { params: { path: { id: endpoint.id } } }));
        await refresh();
        announce(`Endpoint ${endpoint.url} deleted.`);
        list.querySelector<HTMLElement>('h3, p')?.focus();
      } catch (error) {
        result.replaceChildren(errorBox(error));
      }
    });
  });

  const actions = [test, showLog];
  if (endpoint.status === 'disabled') {
    const enable = button('Re-enable', '', 'Re-enable');
    enable.addEventListener('click', () =>
      busy(enable, async () => {
        try {
          await answer(
            client.PATCH('/v1/webhook-endpoints/{id}', {
              params: { path: { id: endpoint.id } },
              body: { enabled: true },
            }),
          );
          await refresh();
          announce(`Endpoint ${endpoint.url} enabled again.`);
        } catch (error) {
          result.replaceChildren(errorBox(error));
        }
      }),
    );
    actions.unshift(enable);
  }
  actions.push(remove);

  return h(
    'li',
    { class: 'endpoint', 'aria-labelledby': titleId, 'data-endpoint-id': endpoint.id },
    h('h3', { id: titleId, class: 'mono wrap', tabindex: '-1' }, endpoint.url),
    h(
      'p',
      { class: endpoint.status === 'disabled' || endpoint.failing_since ? 'warning' : 'muted' },
      health(endpoint),
    ),
    h('p', {}, `Events: ${eventsText(endpoint.events)}. Added ${when(endpoint.created_at)}.`),
    h('div', { class: 'actions' }, ...actions),
    result,
    log,
  );
}

async function drawList(context: ViewContext, holder: HTMLElement): Promise<void> {
  try {
    const { data } = await answer(client.GET('/v1/webhook-endpoints'));
    if (!context.isCurrent()) return;
    holder.replaceChildren(
      data.length
        ? h('ul', { class: 'endpoints' }, ...data.map((endpoint) => endpointCard(context, endpoint, holder)))
        : h(
            'p',
            { class: 'muted', tabindex: '-1' },
            'No webhook endpoints yet. Add one to have billing events sent to your server.',
          ),
    );
  } catch (error) {
    if (context.isCurrent()) holder.replaceChildren(errorBox(error, () => void drawList(context, holder)));
  }
}

function createForm(context: ViewContext, reveal: HTMLElement, list: HTMLElement): HTMLFormElement {
  const url = h('input', {
    id: 'webhook-url',
    type: 'url',
    inputmode: 'url',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'https://example.com/billing-events',
  });
  const all = h('input', { type: 'radio', name: 'webhook-events', id: 'webhook-all', checked: true });
  const chosen = h('input', { type: 'radio', name: 'webhook-events', id: 'webhook-chosen' });
  const boxes = eventTypes.map(([type, label]) => {
    const box = h('input', { type: 'checkbox', id: `webhook-${slug(type)}`, value: type });
    return { type, box, part: h('div', { class: 'check' }, box, h('label', { for: box.id }, label)) };
  });
  const choices = h('fieldset', { hidden: true, id: 'webhook-choices' }, h('legend', {}, 'Events to send'));
  choices.append(...boxes.map((entry) => entry.part));
  const toggle = () => {
    choices.hidden = !chosen.checked;
  };
  all.addEventListener('change', toggle);
  chosen.addEventListener('change', toggle);
  const submit = h('button', { type: 'submit' }, 'Add endpoint');
  const result = h('div', {});
  const form = h(
    'form',
    { novalidate: true, class: 'stack' },
    field(
      'Endpoint URL',
      url,
      'Where events are POSTed, signed (Standard Webhooks). https only in production.',
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Events'),
      h('div', { class: 'check' }, all, h('label', { for: all.id }, 'All events, including new ones')),
      h('div', { class: 'check' }, chosen, h('label', { for: chosen.id }, 'Only the events I choose')),
    ),
    choices,
    submit,
    result,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    result.replaceChildren();
    fieldProblem(url, null);
    const events: ('*' | EventType)[] = chosen.checked
      ? boxes.filter((entry) => entry.box.checked).map((entry) => entry.type)
      : ['*'];
    if (!url.value.trim()) {
      fieldProblem(url, 'Enter the URL events are sent to.');
      url.focus();
      return;
    }
    if (!events.length) {
      result.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'Choose at least one event.'));
      boxes[0]!.box.focus();
      return;
    }
    void busy(submit, async () => {
      try {
        const created = await answer(
          client.POST('/v1/webhook-endpoints', {
            params: { header: withIdempotencyKey(newIdempotencyKey()) },
            body: { url: url.value.trim(), events },
          }),
        );
        if (!context.isCurrent()) return;
        url.value = '';
        reveal.replaceChildren(revealed(created));
        reveal.querySelector<HTMLInputElement>('#new-secret')?.focus();
        announce("Endpoint added. Copy its signing secret now: you won't see it again.");
        await drawList(context, list);
      } catch (error) {
        const problem =
          error instanceof ApiError ? error.details.find((detail) => detail.field === 'url') : null;
        if (problem) {
          fieldProblem(url, `The URL ${problem.problem.replace(/\.$/, '')}.`);
          url.focus();
        } else result.replaceChildren(errorBox(error));
      }
    });
  });
  return form;
}

async function render(context: ViewContext): Promise<void> {
  const reveal = h('div', {});
  const list = h('div', {}, loading('webhook endpoints'));
  page(
    context,
    'Webhooks',
    reveal,
    section('Add an endpoint', createForm(context, reveal, list)),
    section('Your endpoints', list),
  );
  await drawList(context, list);
}

export const webhooks: View = { id: 'webhooks', title: 'Webhooks', shows: () => true, render };
