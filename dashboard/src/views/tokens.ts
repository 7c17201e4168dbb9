// Dashboard › Tokens: create one (its secret is shown once, with a copy button) with an optional spend limit
// and expiry, list them with each one's spend this period against its limit, edit one in a dialog, revoke one
// after confirming.
import {
  ApiError,
  answer,
  type CreatedToken,
  client,
  newIdempotencyKey,
  session,
  type Token,
  withIdempotencyKey,
} from '../api.ts';
import { field, h } from '../dom.ts';
import {
  expiry,
  type LimitReset,
  localInputValue,
  money,
  periodWords,
  readExpiry,
  readLimitAmount,
  when,
} from '../format.ts';
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

type SpendLimit = { amount: number; reset: LimitReset };
type Control = HTMLInputElement | HTMLSelectElement;

const resetChoices: [LimitReset, string][] = [
  ['daily', 'Per day (UTC)'],
  ['weekly', 'Per week (from Monday, UTC)'],
  ['monthly', 'Per month (UTC)'],
  ['never', 'In total (never resets)'],
];

const limitWords: Record<LimitReset, string> = {
  daily: 'a day',
  weekly: 'a week',
  monthly: 'a month',
  never: 'in total',
};

/** The spend limit and expiry fields, shared by the create form and the edit dialog. */
type LimitControls = {
  amount: HTMLInputElement;
  reset: HTMLSelectElement;
  expires: HTMLInputElement;
  parts: HTMLElement[];
};

function limitControls(prefix: string, token?: Token): LimitControls {
  const amount = h('input', {
    id: `${prefix}-limit-amount`,
    inputmode: 'decimal',
    autocomplete: 'off',
    placeholder: 'No limit',
    value: token?.spend_limit ? String(token.spend_limit.amount) : '',
  });
  const reset = h(
    'select',
    { id: `${prefix}-limit-reset` },
    ...resetChoices.map(([value, label]) => h('option', { value }, label)),
  );
  reset.value = token?.spend_limit?.reset ?? 'monthly';
  const expires = h('input', {
    id: `${prefix}-expiry`,
    type: 'datetime-local',
    value: token?.expires_at ? localInputValue(token.expires_at) : '',
  });
  const parts = [
    h(
      'fieldset',
      {},
      h('legend', {}, 'Spend limit (optional)'),
      h(
        'div',
        { class: 'limit-row' },
        field('Limit (USD)', amount, 'Empty: no limit. Past it, calls with this token answer 402.'),
        field('Resets', reset),
      ),
    ),
    field('Expires (your local time)', expires, 'Optional, at most 5 years ahead. Empty: never expires.'),
  ];
  return { amount, reset, expires, parts };
}

type LimitValues = { spendLimit: SpendLimit | null; expiresAt: string | null };

/** The typed limit and expiry, each problem shown next to its field (the first one focused), or null. */
function readLimits(controls: LimitControls, checkExpiry = true): LimitValues | null {
  const amount = readLimitAmount(controls.amount.value);
  const expires = checkExpiry ? readExpiry(controls.expires.value) : ({ ok: true, value: null } as const);
  fieldProblem(controls.amount, amount.ok ? null : amount.problem);
  fieldProblem(controls.expires, expires.ok ? null : expires.problem);
  if (!amount.ok || !expires.ok) {
    (amount.ok ? controls.expires : controls.amount).focus();
    return null;
  }
  return {
    spendLimit:
      amount.value === null ? null : { amount: amount.value, reset: controls.reset.value as LimitReset },
    expiresAt: expires.value,
  };
}

/**
 * A refusal shown where it belongs: a 400's problems next to the fields they name (the first one focused),
 * anything else (or a problem with no field here) as an alert in `result`.
 */
function showRefusal(error: unknown, controls: Record<string, Control>, result: HTMLElement): void {
  if (error instanceof ApiError && error.status === 400 && error.details.length) {
    const placed = error.details.filter((detail) => controls[detail.field]);
    for (const detail of placed) {
      const problem = detail.problem.trim();
      fieldProblem(
        controls[detail.field]!,
        `${problem.charAt(0).toUpperCase()}${problem.slice(1)}${/[.!?]$/.test(problem) ? '' : '.'}`,
      );
    }
    if (placed.length) controls[placed[0]!.field]!.focus();
    if (placed.length === error.details.length) return;
  }
  result.replaceChildren(errorBox(error));
}

function refusalFields(controls: LimitControls, name: HTMLInputElement): Record<string, Control> {
  return {
    name,
    spend_limit: controls.amount,
    'spend_limit.amount': controls.amount,
    'spend_limit.reset': controls.reset,
    expires_at: controls.expires,
  };
}

/** "spend limit $5.00 a month, expires 3 Jan 2027": what a token's limits are, for announcements. */
function describeLimits(spendLimit: SpendLimit | null, expiresAt: string | null): string {
  const limit = spendLimit
    ? `spend limit ${money(spendLimit.amount)} ${limitWords[spendLimit.reset]}`
    : 'no spend limit';
  return `${limit}, ${expiry(expiresAt)}`;
}

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

/** Revoking asks first; revoking the token this tab is signed in with says it signs out. */
function confirmRevoke(token: Token): Promise<boolean> {
  const own = isCurrentSession(token);
  return confirmDialog(
    `Revoke “${token.name}”?`,
    `Calls with ${token.prefix} stop working within a minute. This cannot be undone.` +
      (own ? ' It is the token you are signed in with: you will be signed out.' : ''),
    'Revoke token',
  );
}

/**
 * The edit dialog: name, spend limit and expiry; PATCH sends only what changed. Resolves with the token as the
 * API answered it, or null when cancelled (Escape or Cancel) or nothing changed.
 */
function editToken(
  token: Token,
): Promise<{ name: string; spend_limit: SpendLimit | null; expires_at: string | null } | null> {
  const name = h('input', {
    id: 'edit-token-name',
    maxlength: 100,
    autocomplete: 'off',
    required: true,
    value: token.name,
  });
  const controls = limitControls('edit', token);
  const startExpiry = controls.expires.value;
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const save = h('button', { type: 'submit' }, 'Save changes');
  const result = h('div', {});
  const form = h(
    'form',
    { novalidate: true, class: 'stack' },
    field('Token name', name),
    ...controls.parts,
    result,
    h('div', { class: 'actions' }, cancel, save),
  );
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'edit-title', class: 'edit-token' },
    h('h2', { id: 'edit-title' }, `Edit “${token.name}”`),
    h('p', { class: 'muted' }, `The token starting ${token.prefix}; its secret does not change.`),
    form,
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    // While the change is on its way the dialog stays: its answer decides what the list shows.
    let saving = false;
    const close = (changed: Awaited<ReturnType<typeof editToken>>) => {
      dialog.close();
      dialog.remove();
      resolve(changed);
    };
    cancel.addEventListener('click', () => {
      if (!saving) close(null);
    });
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      if (!saving) close(null);
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      result.replaceChildren();
      const newName = name.value.trim();
      fieldProblem(name, newName ? null : 'Give the token a name.');
      // An expiry left as it was is not checked again (nor sent): it may be close, or already past.
      const expiryChanged = controls.expires.value !== startExpiry;
      const values = readLimits(controls, expiryChanged);
      if (!newName) {
        name.focus();
        return;
      }
      if (!values) return;
      const body: {
        name?: string;
        spend_limit?: SpendLimit | null;
        expires_at?: string | null;
      } = {};
      if (newName !== token.name) body.name = newName;
      const before = token.spend_limit;
      const after = values.spendLimit;
      if (before?.amount !== after?.amount || before?.reset !== after?.reset) body.spend_limit = after;
      if (expiryChanged) body.expires_at = values.expiresAt;
      if (!Object.keys(body).length) {
        announce('Nothing changed.');
        close(null);
        return;
      }
      saving = true;
      cancel.disabled = true;
      void busy(save, async () => {
        try {
          const updated = await answer(
            client.PATCH('/v1/tokens/{id}', { params: { path: { id: token.id } }, body }),
          );
          close(updated);
        } catch (error) {
          // A session that ended is sent back to the sign-in form, which the modal dialog must not cover.
          if (error instanceof ApiError && error.status === 401) close(null);
          else showRefusal(error, refusalFields(controls, name), result);
        } finally {
          saving = false;
          cancel.disabled = false;
        }
      });
    });
    dialog.showModal();
    name.focus();
  });
}

/** "$0.42 of $5.00 today" with a meter, or "$0.42 this month" without a limit. */
function spendCell(token: Token): HTMLElement {
  const limit = token.spend_limit;
  const spent = money(token.usage.spent);
  const text = limit
    ? `${spent} of ${money(limit.amount)} ${periodWords[limit.reset]}`
    : `${spent} ${periodWords.monthly}`;
  const cell = h('td', { class: 'spend' }, h('span', {}, text));
  if (limit) {
    // The meter's length is pixels, not money: the amounts themselves are the API's, as sent.
    cell.append(
      h('meter', {
        min: 0,
        max: limit.amount,
        value: Math.min(token.usage.spent, limit.amount),
        high: limit.amount * 0.8,
        optimum: 0,
        'aria-label': `Spend of ${token.name}: ${text}`,
      }),
    );
  }
  return cell;
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
            holder.querySelector<HTMLElement>('.scroll, p')?.focus();
          } catch (error) {
            holder.prepend(errorBox(error));
          }
        });
      });
      const edit = h(
        'button',
        { type: 'button', class: 'secondary small', 'aria-label': `Edit ${token.name}` },
        'Edit',
      );
      edit.addEventListener('click', async () => {
        const updated = await editToken(token);
        if (!updated) {
          edit.focus();
          return;
        }
        announce(
          `Token “${updated.name}” updated: ${describeLimits(updated.spend_limit, updated.expires_at)}.`,
        );
        await drawList(context, holder);
        const again = holder.querySelector<HTMLElement>(`tr[data-token-id="${token.id}"] button.edit`);
        (again ?? holder.querySelector<HTMLElement>('.scroll, p'))?.focus();
      });
      edit.classList.add('edit');
      const expired = token.expires_at !== null && Date.parse(token.expires_at) <= Date.now();
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
        spendCell(token),
        h(
          'td',
          {},
          token.expires_at
            ? h(
                'time',
                {
                  datetime: token.expires_at,
                  title: when(token.expires_at),
                  class: expired ? 'badge badge-expired' : undefined,
                },
                expiry(token.expires_at),
              )
            : expiry(null),
        ),
        h('td', {}, when(token.created_at)),
        h('td', {}, token.last_used_at ? when(token.last_used_at) : 'never'),
        h('td', { class: 'row-actions' }, edit, revoke),
      );
    });
    holder.replaceChildren(
      h(
        'div',
        // Focus lands here after a revoke or an edit (a focusable caption would break the table's roles).
        { class: 'scroll', role: 'region', tabindex: '0', 'aria-label': 'Active tokens' },
        h(
          'table',
          {},
          h('caption', {}, 'Active tokens'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Name', 'Starts with', 'Scopes', 'Spend', 'Expiry', 'Created', 'Last used', 'Actions'].map(
                (t) => h('th', { scope: 'col' }, t),
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
  const limits = limitControls('token');
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
    ...limits.parts,
    submit,
    result,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    result.replaceChildren();
    fieldProblem(name, null);
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
    const values = readLimits(limits);
    if (!values) return;
    void busy(submit, async () => {
      try {
        const created = await answer(
          client.POST('/v1/tokens', {
            params: { header: withIdempotencyKey(newIdempotencyKey()) },
            body: {
              name: name.value.trim(),
              scopes,
              ...(values.spendLimit ? { spend_limit: values.spendLimit } : {}),
              ...(values.expiresAt ? { expires_at: values.expiresAt } : {}),
            },
          }),
        );
        if (!context.isCurrent()) return;
        name.value = '';
        limits.amount.value = '';
        limits.expires.value = '';
        reveal.replaceChildren(revealed(created));
        reveal.querySelector<HTMLInputElement>('#new-token')?.focus();
        announce(
          `Token “${created.name}” created with ${describeLimits(created.spend_limit, created.expires_at)}. Copy it now: it is shown only once.`,
        );
        await drawList(context, list);
      } catch (error) {
        showRefusal(error, refusalFields(limits, name), result);
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
