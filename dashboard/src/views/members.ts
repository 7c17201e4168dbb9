// Dashboard › Members (owners): who can sign in to this account by email and with which role; invite someone
// (they get an email), change a role, remove a member after confirming. The API keeps at least one owner and
// answers 409 otherwise; the reason is shown next to the control that asked.
import type { paths } from '../../../client/openapi.ts';
import { answer, client, newIdempotencyKey, withIdempotencyKey } from '../api.ts';
import { ROLES, type Role, roleNames } from '../auth.ts';
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

type Member = paths['/v1/members']['get']['responses'][200]['content']['application/json']['data'][number];

const roleHelp: Record<Role, string> = {
  viewer: 'sees balance, usage, transactions, prices and invoices',
  billing: 'also buys credits and manages auto-refill, limits and notifications',
  owner: 'also manages tokens, webhooks and members',
};

function roleSelect(id: string, selected: Role, label?: string): HTMLSelectElement {
  return h(
    'select',
    { id, ...(label ? { 'aria-label': label } : {}) },
    ...ROLES.map((role) => h('option', { value: role, selected: role === selected }, roleNames[role])),
  );
}

function memberRow(context: ViewContext, member: Member, list: HTMLElement): HTMLTableRowElement {
  const result = h('div', {});
  const role = roleSelect(`role-${member.id}`, member.role as Role, `Role of ${member.email}`);
  role.addEventListener('change', async () => {
    result.replaceChildren();
    role.disabled = true;
    try {
      await answer(
        client.PATCH('/v1/members/{id}', {
          params: { path: { id: member.id } },
          body: { role: role.value as Role },
        }),
      );
      // The row already shows the new role: redrawing the list here raced the next change, whose row (and
      // its refusal) the redraw replaced.
      member.role = role.value as Role;
      announce(`${member.email} is now ${roleNames[role.value as Role]}.`);
    } catch (error) {
      role.value = member.role;
      result.replaceChildren(errorBox(error));
    } finally {
      role.disabled = false;
    }
  });
  const remove = h(
    'button',
    { type: 'button', class: 'danger small', 'aria-label': `Remove ${member.email}` },
    'Remove',
  );
  remove.addEventListener('click', async () => {
    const yes = await confirmDialog(
      `Remove ${member.email}?`,
      'They can no longer sign in to this account; a session they have open stops working at once.',
      'Remove member',
    );
    if (!yes) {
      remove.focus();
      return;
    }
    await busy(remove, async () => {
      try {
        await answer(client.DELETE('/v1/members/{id}', { params: { path: { id: member.id } } }));
        announce(`${member.email} removed.`);
        await drawList(context, list);
      } catch (error) {
        result.replaceChildren(errorBox(error));
      }
    });
  });
  const status = member.status === 'invited' ? 'Invited' : 'Active';
  return h(
    'tr',
    { 'data-member-id': member.id },
    h('th', { scope: 'row', class: 'wrap', 'data-label': 'Email' }, member.email),
    h('td', { 'data-label': 'Role' }, role),
    h('td', { 'data-label': 'Status' }, status),
    h('td', { 'data-label': 'Added' }, when(member.created_at)),
    h('td', { 'data-label': 'Actions', class: 'row-actions' }, remove, result),
  );
}

async function drawList(context: ViewContext, holder: HTMLElement): Promise<void> {
  try {
    const { data } = await answer(client.GET('/v1/members'));
    if (!context.isCurrent()) return;
    holder.replaceChildren(
      data.length
        ? h(
            'table',
            { id: 'members' },
            h('caption', {}, 'Members of this account'),
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ...['Email', 'Role', 'Status', 'Added', 'Actions'].map((title) =>
                  h('th', { scope: 'col' }, title),
                ),
              ),
            ),
            h('tbody', {}, ...data.map((member) => memberRow(context, member, holder))),
          )
        : h(
            'p',
            { class: 'muted', tabindex: '-1' },
            'No members yet: this account is used with tokens only. Invite someone to let them sign in by email.',
          ),
    );
  } catch (error) {
    if (context.isCurrent()) holder.replaceChildren(errorBox(error, () => void drawList(context, holder)));
  }
}

function inviteForm(context: ViewContext, list: HTMLElement): HTMLFormElement {
  const email = h('input', { id: 'invite-email', type: 'email', autocomplete: 'off', spellcheck: 'false' });
  const role = roleSelect('invite-role', 'viewer');
  const help = h('p', { class: 'help', id: 'invite-role-help' });
  const describe = () => {
    help.textContent = `${roleNames[role.value as Role]} ${roleHelp[role.value as Role]}.`;
  };
  describe();
  role.setAttribute('aria-describedby', help.id);
  role.addEventListener('change', describe);
  const submit = h('button', { type: 'submit' }, 'Send invitation');
  const result = h('div', {});
  const form = h(
    'form',
    { novalidate: true, class: 'stack', id: 'invite' },
    field('Email', email, 'They get an email with a link to sign in.'),
    h('div', { class: 'field' }, h('label', { for: role.id }, 'Role'), role, help),
    submit,
    result,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    result.replaceChildren();
    fieldProblem(email, null);
    const address = email.value.trim();
    if (!/^[^@\s]+@[^@\s]+$/.test(address)) {
      fieldProblem(email, 'Enter the email address to invite.');
      email.focus();
      return;
    }
    void busy(submit, async () => {
      try {
        const invited = await answer(
          client.POST('/v1/members', {
            body: { email: address, role: role.value as Role },
            headers: withIdempotencyKey(newIdempotencyKey()),
          }),
        );
        form.reset();
        describe();
        result.replaceChildren(
          h('p', { class: 'success', role: 'status' }, `Invitation sent to ${invited.email}.`),
        );
        announce(`Invitation sent to ${invited.email}.`);
        await drawList(context, list);
      } catch (error) {
        const problem = (error as { details?: { field: string; problem: string }[] }).details?.find(
          (detail) => detail.field === 'email',
        );
        if (problem) {
          fieldProblem(email, `Email ${problem.problem}.`);
          email.focus();
        } else result.replaceChildren(errorBox(error));
      }
    });
  });
  return form;
}

async function render(context: ViewContext): Promise<void> {
  const list = h('div', {}, loading('members'));
  page(
    context,
    'Members',
    section(
      'Members',
      h(
        'p',
        { class: 'muted' },
        'People who sign in to this dashboard by email. Viewers see balance, usage and invoices; Billing also ' +
          'buys credits and changes billing settings; Owners also manage tokens, webhooks and members.',
      ),
      list,
    ),
    section('Invite someone', inviteForm(context, list)),
  );
  await drawList(context, list);
}

export const members: View = { id: 'members', title: 'Members', shows: () => true, role: 'owner', render };
