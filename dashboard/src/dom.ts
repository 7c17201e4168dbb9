// Dashboard: a tiny element builder. Text always goes in as text nodes, so nothing from the API is ever
// parsed as HTML.

type Child = Node | string | number | false | null | undefined;
type Attributes = Record<string, string | number | boolean | undefined | EventListener>;

function apply(element: Element, attributes: Attributes): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
}

function append(element: Element, children: Child[]): void {
  for (const child of children) {
    if (child === false || child === null || child === undefined) continue;
    element.append(typeof child === 'object' ? child : String(child));
  }
}

/** `h('button', { type: 'button', onClick }, 'Save')`; `on…` attributes become listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  apply(element, attributes);
  append(element, children);
  return element;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  apply(element, attributes);
  append(element, children);
  return element;
}

/** A labelled form field: the label's `for` and the control's `id` always agree. */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement,
  help?: string,
): HTMLDivElement {
  const helpId = help ? `${control.id}-help` : undefined;
  if (helpId) control.setAttribute('aria-describedby', helpId);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    help ? h('p', { class: 'help', id: helpId }, help) : null,
  );
}

/** A table with a caption, header row and one row per item; each cell carries its column's label. */
export function table(caption: string, headers: string[], rows: Child[][]): HTMLTableElement {
  return h(
    'table',
    {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...headers.map((header) => h('th', { scope: 'col' }, header)))),
    h(
      'tbody',
      {},
      ...rows.map((cells) =>
        h('tr', {}, ...cells.map((cell, i) => h('td', { 'data-label': headers[i] ?? '' }, cell))),
      ),
    ),
  );
}

// Slice B (phones): below 600 px wide, app.css shows every table as stacked rows whose cells read
// "label: value" from `data-label`; wider, a table scrolls inside a focusable, labelled region (axe:
// scrollable-region-focusable). Whatever builds a table (`table()` above or `h('table', …)` in a view),
// `tidyTables` gives it both, so no view can forget.

/** Labels each body cell with its column header and puts the table in a focusable, labelled scroll region. */
export function tidyTable(element: HTMLTableElement): void {
  const headers = [...(element.tHead?.rows[0]?.cells ?? [])].map((cell) => cell.textContent?.trim() ?? '');
  // Stacked with `display: block`, a table loses its table semantics in browsers; explicit roles keep them.
  const role = (node: Element, name: string) => {
    if (!node.hasAttribute('role')) node.setAttribute('role', name);
  };
  role(element, 'table');
  for (const group of [element.tHead, ...element.tBodies]) if (group) role(group, 'rowgroup');
  for (const row of element.tHead?.rows ?? []) {
    role(row, 'row');
    for (const cell of row.cells) role(cell, 'columnheader');
  }
  for (const body of element.tBodies)
    for (const row of body.rows) {
      role(row, 'row');
      let column = 0;
      for (const cell of row.cells) {
        role(cell, cell.tagName === 'TH' ? 'rowheader' : 'cell');
        if (!cell.hasAttribute('data-label')) cell.setAttribute('data-label', headers[column] ?? '');
        column += cell.colSpan;
      }
    }
  let region = element.parentElement;
  if (!region) return;
  if (!region.classList.contains('scroll')) {
    region = h('div', { class: 'scroll' });
    element.replaceWith(region);
    region.append(element);
  }
  if (!region.hasAttribute('role')) {
    region.setAttribute('role', 'region');
    region.setAttribute('tabindex', '0');
  }
  const name = element.caption?.textContent?.trim() || headers.filter(Boolean).join(', ') || 'Table';
  if (region.getAttribute('aria-label') !== name) region.setAttribute('aria-label', name);
}

/** Keeps every table under `root` tidy as views draw and redraw (see `tidyTable`). */
export function tidyTables(root: HTMLElement): void {
  const tidyAll = () => {
    for (const element of root.querySelectorAll('table')) tidyTable(element);
  };
  new MutationObserver(tidyAll).observe(root, { childList: true, subtree: true });
  tidyAll();
}
