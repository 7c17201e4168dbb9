// Dashboard › Prices: every feature of the price catalog (GET /v1/prices, public) with how it is charged,
// as a table, so a customer can tell what a call will cost before making it.
import { answer, client } from '../api.ts';
import { h } from '../dom.ts';
import { type Price, priceLine } from '../format.ts';
import { errorBox, loading, page, section, type View, type ViewContext } from '../ui.ts';

function row(entry: Price): HTMLTableRowElement {
  const line = priceLine(entry);
  return h(
    'tr',
    {},
    h('th', { scope: 'row', class: 'mono' }, entry.feature),
    h('td', {}, line.pricing),
    h('td', {}, line.price),
    h('td', {}, line.limit),
  );
}

async function render(context: ViewContext): Promise<void> {
  const content = h('div', {});
  page(
    context,
    'Prices',
    section(
      'Price list',
      h(
        'p',
        { class: 'muted' },
        'What each paid feature costs, in US dollars. Per-unit features are charged for the units a call ' +
          'uses; dynamically priced features are charged what the service reports for the call.',
      ),
      content,
    ),
  );
  // One place for the list's state: loading, the table (or "No priced features yet."), or the error box, so
  // a failed read never leaves "Loading prices…" above its error.
  const load = async () => {
    content.replaceChildren(loading('prices'));
    try {
      const list = await answer(client.GET('/v1/prices'));
      if (!context.isCurrent()) return;
      content.replaceChildren(
        list.data.length
          ? h(
              'div',
              { class: 'scroll' },
              h(
                'table',
                {},
                h('caption', {}, 'Every feature’s price, in USD'),
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    ...['Feature', 'Pricing', 'Price', 'Most a call can use or cost'].map((title) =>
                      h('th', { scope: 'col' }, title),
                    ),
                  ),
                ),
                h('tbody', {}, ...list.data.map(row)),
              ),
            )
          : h('p', { class: 'muted' }, 'No priced features yet.'),
      );
    } catch (error) {
      if (context.isCurrent()) content.replaceChildren(errorBox(error, () => void load()));
    }
  };
  await load();
}

export const prices: View = { id: 'prices', title: 'Prices', shows: () => true, render };
