// Browser tests: axe-core injected into the page (the context must be created with `bypassCSP: true`: the
// dashboard's policy allows no inline script) and its violations of any impact as one line each.
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const AXE = createRequire(import.meta.url).resolve('axe-core');

type Violation = { id: string; impact: string | null; help: string; nodes: { target: string[] }[] };
type WithAxe = {
  document: unknown;
  axe?: { run(context: unknown, options: { resultTypes: string[] }): Promise<{ violations: Violation[] }> };
};

/** Every axe violation on the page as it is now: `impact rule (help): selectors`. Empty when there is none. */
export async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => Boolean((globalThis as unknown as WithAxe).axe))))
    await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const w = globalThis as unknown as WithAxe;
    return (await w.axe!.run(w.document, { resultTypes: ['violations'] })).violations;
  });
  return violations.map(
    (violation) =>
      `${violation.impact ?? 'unknown'} ${violation.id} (${violation.help}): ${violation.nodes
        .map((node) => node.target.join(' '))
        .join(', ')}`,
  );
}
