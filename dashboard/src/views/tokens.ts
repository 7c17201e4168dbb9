// Dashboard › Tokens: create one (its secret is shown once, with a copy button), list them, revoke one
// after confirming.
import {
  answer,
  type CreatedToken,
  client,
  newIdempotencyKey,
  session,
  type Token,
  withIdempotencyKey,
} from '../api.ts';
import { field, h } from '../dom.ts';
import { when } from '../format.ts';
import { announce, busy, errorBox, loading, page, section, type View, type ViewContext } from '../ui.ts';

/** Whether a listed token is the one this page is signed in with (its display prefix starts the secret). */
function isCurrentSession(token: Token): boolean {
  const prefix = token.prefix.replace(/(…|\.\.\.)$/, '');
  return Boolean(prefix) && (session.token()?.startsWith(prefix) ?? false);
}

function revealed(created: CreatedToken): HTMLElement {
  const box = h('section', { class: 'card reveal', 'aria-labelledby': 'new-token-title' });
  if (!created.token) {
    box.append(
      h('h2', { id: 'new-token-title' }, `Token “${created.name}” created`),
      h(
        'p',
        {},
        'Its secret was already shown once and cannot be shown again. Revoke it and create another if it was lost.',
      ),
    );
    return box;
  }
  const secret = h('input', {
    id: 'new-token',
    readonly: true,
    value: created.token,
    class: 'mono',
    spellcheck: 'false',
  });
  const copied = h('span', { class: 'muted', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(created.token ?? '');
      copied.textContent = 'Copied.';
    } catch {
      secret.select();
      copied.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  });
  box.append(
    h('h2', { id: 'new-token-title' }, `Token “${created.name}” created`),
    h('p', { class: 'warning' }, 'Copy it now: this is the only time it is shown.'),
    h('div', { class: 'copy-row' }, field('Your new token', secret), copy, copied),
  );
  return box;
}

/** A modal confirmation; resolves true when the customer confirms. Escape or Cancel resolve false. */
function confirmRevoke(token: Token): Promise<boolean> {
  const own = isCurrentSession(token);
  const cancel = h('button', { type: 'button', class: 'secondary', value: 'cancel' }, 'Cancel');
  const confirm = h('button', { type: 'button', class: 'danger', value: 'revoke' }, 'Revoke token');
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'revoke-title', 'aria-describedby': 'revoke-text' },
    h('h2', { id: 'revoke-title' }, `Revoke “${token.name}”?`),
    h(
      'p',
      { id: 'revoke-text' },
      `Calls with ${token.prefix} stop working within a minute. This cannot be undone.`,
      own ? ' It is the token you are signed in with: you will be signed out.' : '',
    ),
    h('div', { class: 'actions' }, cancel, confirm),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    const close = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancel.addEventListener('click', () => close(false));
    confirm.addEventListener('click', () => close(true));
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      close(false);
    });
    dialog.showModal();
    cancel.focus();
  });
}

async function drawList(context: ViewContext, holder: HTMLElement): Promise<void> {
  try {
    const { data } = await answer(client.GET('/v1/tokens'));
    if (!context.isCurrent()) return;
    if (!data.length) {
      holder.replaceChildren(h('p', { class: 'muted' }, 'No active tokens.'));
      return;
    }
    const rows = data.map((token) => {
      const revoke = h(
        'button',
        { type: 'button', class: 'danger small', 'aria-label': `Revoke ${token.name}` },
        'Revoke',
      );
      revoke.addEventListener('click', async () => {
        if (!(await confirmRevoke(token))) {
          revoke.focus();
          return;
        }
        const own = isCurrentSession(token);
        await busy(revoke, async () => {
          try {
            await answer(client.DELETE('/v1/tokens/{id}', { params: { path: { id: token.id } } }));
            announce(`Token “${token.name}” revoked.`);
            if (own) {
              session.signOut();
              location.hash = '#overview';
              location.reload();
              return;
            }
            await drawList(context, holder);
            holder.querySelector<HTMLElement>('table caption, p')?.focus();
          } catch (error) {
            holder.prepend(errorBox(error));
          }
        });
      });
      return h(
        'tr',
        { 'data-token-id': token.id },
        h(
          'td',
          {},
          token.name,
          isCurrentSession(token) ? h('span', { class: 'badge' }, 'this session') : null,
        ),
        h('td', { class: 'mono' }, token.prefix),
        h('td', {}, token.scopes.join(', ')),
        h('td', {}, when(token.created_at)),
        h('td', {}, token.last_used_at ? when(token.last_used_at) : 'never'),
        h('td', {}, revoke),
      );
    });
    holder.replaceChildren(
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          {},
          h('caption', { tabindex: '-1' }, 'Active tokens'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Name', 'Starts with', 'Scopes', 'Created', 'Last used', ''].map((t) =>
                h('th', { scope: 'col' }, t),
              ),
            ),
          ),
          h('tbody', {}, ...rows),
        ),
      ),
    );
  } catch (error) {
    if (context.isCurrent()) holder.replaceChildren(errorBox(error, () => void drawList(context, holder)));
  }
}

function createForm(context: ViewContext, reveal: HTMLElement, list: HTMLElement): HTMLElement {
  const name = h('input', { id: 'token-name', maxlength: 100, autocomplete: 'off', required: true });
  const apiScope = h('input', { type: 'checkbox', id: 'scope-api', checked: true });
  const billingScope = h('input', { type: 'checkbox', id: 'scope-billing' });
  const submit = h('button', { type: 'submit' }, 'Create token');
  const result = h('div', {});
  const form = h(
    'form',
    { novalidate: true, class: 'stack' },
    field('Token name', name, 'Say where it is used, e.g. “production server”.'),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Scopes'),
      h(
        'div',
        { class: 'check' },
        apiScope,
        h('label', { for: 'scope-api' }, 'api: paid calls; read credits, usage and transactions'),
      ),
      h(
        'div',
        { class: 'check' },
        billingScope,
        h('label', { for: 'scope-billing' }, 'billing: also buy credits, manage auto-refill and tokens'),
      ),
    ),
    submit,
    result,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    result.replaceChildren();
    const scopes = (['api', 'billing'] as const).filter(
      (scope) => (scope === 'api' ? apiScope : billingScope).checked,
    );
    if (!name.value.trim() || !scopes.length) {
      result.replaceChildren(
        h(
          'p',
          { class: 'error', role: 'alert' },
          !name.value.trim() ? 'Give the token a name.' : 'Choose at least one scope.',
        ),
      );
      (name.value.trim() ? apiScope : name).focus();
      return;
    }
    void busy(submit, async () => {
      try {
        const created = await answer(
          client.POST('/v1/tokens', {
            params: { header: withIdempotencyKey(newIdempotencyKey()) },
            body: { name: name.value.trim(), scopes },
          }),
        );
        if (!context.isCurrent()) return;
        name.value = '';
        reveal.replaceChildren(revealed(created));
        reveal.querySelector<HTMLInputElement>('#new-token')?.focus();
        announce(`Token “${created.name}” created. Copy it now: it is shown only once.`);
        await drawList(context, list);
      } catch (error) {
        result.replaceChildren(errorBox(error));
      }
    });
  });
  return form;
}

async function render(context: ViewContext): Promise<void> {
  const reveal = h('div', {});
  const list = h('div', {}, loading('tokens'));
  page(
    context,
    'Tokens',
    reveal,
    section('Create a token', createForm(context, reveal, list)),
    section('Your tokens', list),
  );
  await drawList(context, list);
}

export const tokens: View = { id: 'tokens', title: 'Tokens', shows: () => true, render };
