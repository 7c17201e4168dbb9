// Stripe emulator: the small, accessible HTML the hosted pages share (no scripts, no external assets).

import { escapeHtml } from '#shared/http/html.ts';

export { escapeHtml };

const zeroDecimal = new Set(['jpy', 'krw', 'vnd', 'clp', 'pyg', 'xaf', 'xof', 'ugx', 'rwf']);

/** `2500, 'usd'` → `$25.00`, formatted for people. */
export function formatMoney(amount: number, currency: string): string {
  const units = zeroDecimal.has(currency) ? amount : amount / 100;
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() }).format(
    units,
  );
}

const styles = `
body { font-family: system-ui, sans-serif; margin: 0; background: #f6f8fa; color: #1a1f36; }
main { max-width: 28rem; margin: 3rem auto; background: #fff; padding: 2rem; border-radius: 8px;
  box-shadow: 0 1px 3px rgba(0,0,0,.15); }
h1 { font-size: 1.25rem; margin-top: 0; }
.amount { font-size: 2rem; font-weight: 600; margin: .5rem 0 1rem; }
.notice { font-size: .8rem; color: #596171; }
fieldset { border: 1px solid #d5dbe1; border-radius: 6px; margin: 1rem 0; }
label { display: block; margin: .5rem 0 .25rem; }
fieldset label { display: inline-block; margin-right: 1rem; }
input[type=text], input[type=email] { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem;
  border: 1px solid #aab2bd; border-radius: 4px; }
button { margin-top: 1rem; width: 100%; padding: .75rem; font-size: 1rem; border: 0; border-radius: 6px;
  background: #533afd; color: #fff; cursor: pointer; }
button:focus, input:focus { outline: 3px solid #9f8fff; outline-offset: 1px; }
.error { background: #fdecea; color: #8a1c12; padding: .75rem; border-radius: 4px; }
.help { font-size: .85rem; color: #4f566b; }
`;

export function layout(title: string, content: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${styles}</style>
</head>
<body>
<main>
${content}
<p class="notice">Local Stripe emulator: test mode, no real money moves.</p>
</main>
</body>
</html>
`;
}
