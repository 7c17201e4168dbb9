// Dashboard › AWS Marketplace contract (marketplace_contract accounts only): what the buyer's contract entitles,
// what has been granted for it, when it ends, and where to buy more. Such an account is funded only by the
// contract (no card payments, no auto-refill), so this view replaces Buy credits and Auto-refill for it.
import type { Credits } from '../api.ts';
import { h } from '../dom.ts';
import { day, money, subscriptionNotice } from '../format.ts';
import { errorBox, loading, page, section, type View, type ViewContext } from '../ui.ts';

const TITLE = 'AWS Marketplace contract';

type Contract = NonNullable<Credits['marketplace']>;

function figure(label: string, value: string, id: string, note?: string): HTMLElement {
  return h(
    'div',
    { class: 'figure' },
    h('dt', { class: 'figure-label' }, label),
    h('dd', { class: 'figure-value', id }, value),
    note ? h('dd', { class: 'muted', id: `${id}-note` }, note) : null,
  );
}

function contractFigures(contract: Contract): HTMLElement {
  // Nothing entitled and nothing granted: the contract's credits have not been read from AWS yet.
  if (contract.entitled === 0 && contract.granted === 0) {
    return h(
      'p',
      { id: 'contract-empty' },
      'No credits from your contract yet: they are added to your balance as soon as AWS Marketplace confirms the contract, usually within minutes of buying it.',
    );
  }
  return h(
    'dl',
    { class: 'figures' },
    figure('Entitled by the contract', money(contract.entitled), 'contract-entitled'),
    figure(
      'Granted so far',
      money(contract.granted),
      'contract-granted',
      // A downgrade lowers what is entitled; credits already granted are never taken back.
      contract.granted > contract.entitled
        ? 'More than the contract now entitles: credits granted before a change of contract are kept.'
        : undefined,
    ),
    figure(
      'Contract ends',
      contract.contract_end ? day(contract.contract_end) : 'No end date',
      'contract-end',
    ),
  );
}

/** Where to buy more: the product's AWS Marketplace page (a new tab), or where to find it without one. */
function buyMore(contract: Contract): HTMLElement {
  if (contract.listing_url) {
    return h(
      'p',
      {},
      h(
        'a',
        { href: contract.listing_url, target: '_blank', rel: 'noopener noreferrer', id: 'buy-more' },
        'Buy more through AWS Marketplace',
      ),
      ' (opens in a new tab).',
    );
  }
  return h(
    'p',
    { id: 'buy-more' },
    'To buy more, upgrade or renew your contract from the AWS Marketplace subscriptions page of your AWS account.',
  );
}

function draw(context: ViewContext, credits: Credits): void {
  const contract = credits.marketplace;
  if (credits.billing_mode !== 'marketplace_contract' || !contract) {
    page(context, TITLE, h('p', {}, 'This account is not funded by an AWS Marketplace contract.'));
    return;
  }
  const notice = subscriptionNotice(credits.subscription_status);
  page(
    context,
    TITLE,
    notice ? h('p', { class: 'notice', id: 'contract-status' }, notice) : null,
    section(
      'Your contract',
      contractFigures(contract),
      h(
        'p',
        { class: 'muted' },
        'Your balance is funded by this contract only: each credit it entitles is added once, and usage is taken from the balance. ',
        h('a', { href: '#transactions' }, 'See the grants in Transactions'),
      ),
    ),
    section('Buy more credits', buyMore(contract)),
  );
}

async function render(context: ViewContext): Promise<void> {
  // The previous view must not stay on screen while the contract is read.
  page(context, TITLE, loading('your contract'));
  let credits: Credits;
  try {
    credits = await context.refreshCredits();
  } catch (error) {
    if (!context.isCurrent()) return;
    page(
      context,
      TITLE,
      errorBox(error, () => void render(context)),
    );
    return;
  }
  if (!context.isCurrent()) return;
  draw(context, credits);
}

export const contract: View = {
  id: 'contract',
  title: 'Contract',
  shows: (credits) => credits.billing_mode === 'marketplace_contract',
  render,
};
