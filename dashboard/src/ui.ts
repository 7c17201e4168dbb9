// Dashboard: what every view shares: the context it renders in, status announcements and error boxes.
import { ApiError, type Credits } from './api.ts';
import { type Role, roleAtLeast, roleNames } from './auth.ts';
import { h } from './dom.ts';

export type ViewContext = {
  main: HTMLElement;
  credits: Credits;
  /** Re-reads GET /v1/credits and updates the header's balance. */
  refreshCredits(): Promise<Credits>;
  /** False once the customer has moved to another view: late answers must not draw over it. */
  isCurrent(): boolean;
  /** The signed-in member's role in the account; undefined when signed in with a billing token. */
  role?: Role;
};

export type View = {
  id: string;
  title: string;
  /** Whether this account sees the view (postpaid pages only for postpaid accounts, and so on). */
  shows(credits: Credits): boolean;
  /** The least role a member needs to use the view (the API's route table); others see why they cannot. */
  role?: Role;
  render(context: ViewContext): Promise<void>;
};

const roleNeeds: Record<Role, string> = {
  viewer: 'any role',
  billing: 'the Billing or Owner role',
  owner: 'the Owner role',
};

/**
 * Why the signed-in member cannot do something here, or null when they can (a billing token can do
 * everything). Shown instead of, or next to, the controls their role may not use.
 */
export function roleBlock(
  context: Pick<ViewContext, 'role'>,
  needed: Role,
  what: string,
): HTMLElement | null {
  if (!context.role || roleAtLeast(context.role, needed)) return null;
  return h(
    'p',
    { class: 'notice role-notice' },
    `${what} needs ${roleNeeds[needed]}. You are a ${roleNames[context.role]} of this account: ask an owner if you need more.`,
  );
}

/** Says something to screen readers and shows it in the status bar, without moving focus. */
export function announce(message: string): void {
  const status = document.getElementById('status');
  if (!status) return;
  status.textContent = '';
  // A changed text is what live regions announce; clearing first makes a repeated message count too.
  requestAnimationFrame(() => {
    status.textContent = message;
  });
}

/** A refusal or failure as a short alert with what to do next; 5xx and network errors offer a retry. */
export function errorBox(error: unknown, retry?: () => void): HTMLElement {
  const known = error instanceof ApiError;
  const message = known ? error.message : 'Something went wrong in this page. Reload it and try again.';
  if (!known) console.warn(error);
  const box = h(
    'div',
    { class: 'error', role: 'alert' },
    h('p', {}, message),
    known && error.details.length
      ? h('ul', {}, ...error.details.map((detail) => h('li', {}, `${detail.field}: ${detail.problem}`)))
      : null,
    known && error.requestId ? h('p', { class: 'muted' }, `Request id: ${error.requestId}`) : null,
  );
  if (retry && (!known || error.status === 0 || error.status >= 500 || error.status === 429)) {
    box.append(h('button', { type: 'button', class: 'secondary', onClick: retry }, 'Try again'));
  }
  return box;
}

/** Replaces a view's content with its heading and the given parts; the heading takes focus on navigation. */
export function page(context: ViewContext, title: string, ...parts: (Node | null)[]): HTMLHeadingElement {
  const heading = h('h1', { tabindex: '-1' }, title);
  context.main.replaceChildren(heading, ...parts.filter((part): part is Node => part !== null));
  return heading;
}

export function section(title: string, ...parts: (Node | string | null)[]): HTMLElement {
  const id = `section-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', { 'aria-labelledby': id, class: 'card' }, h('h2', { id }, title), ...parts);
}

export function loading(what: string): HTMLElement {
  return h('p', { class: 'muted', 'aria-busy': 'true' }, `Loading ${what}…`);
}

/** Runs a form's action with its submit button disabled, so a double click cannot send it twice. */
export async function busy<T>(button: HTMLButtonElement, action: () => Promise<T>): Promise<T> {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** Marks a field invalid with its message (or clears it), wired for screen readers. */
export function fieldProblem(input: HTMLInputElement | HTMLSelectElement, message: string | null): void {
  const id = `${input.id}-problem`;
  document.getElementById(id)?.remove();
  const describedBy = (input.getAttribute('aria-describedby') ?? '')
    .split(' ')
    .filter((part) => part && part !== id);
  if (message) {
    input.setAttribute('aria-invalid', 'true');
    input.insertAdjacentElement('afterend', h('p', { class: 'field-problem', id }, message));
    describedBy.push(id);
  } else {
    input.removeAttribute('aria-invalid');
  }
  if (describedBy.length) input.setAttribute('aria-describedby', describedBy.join(' '));
  else input.removeAttribute('aria-describedby');
}

/** A modal confirmation; resolves true when the customer confirms. Escape or Cancel resolve false. */
export function confirmDialog(title: string, text: string, confirmLabel: string): Promise<boolean> {
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const confirm = h('button', { type: 'button', class: 'danger' }, confirmLabel);
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
    h('h2', { id: 'confirm-title' }, title),
    h('p', { id: 'confirm-text', class: 'wrap' }, text),
    h('div', { class: 'actions' }, cancel, confirm),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    const close = (yes: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(yes);
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
