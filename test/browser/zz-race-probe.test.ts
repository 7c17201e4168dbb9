import { describe, expect, it } from 'vitest';
import { useDashboard } from './browser.ts';

const harness = useDashboard('race-probe');

describe('probe', () => {
  it('signs out while the overview loads', async () => {
    const { page, stack } = harness;
    await page.goto(`${stack.url}/`);
    await page.getByLabel('Billing token').fill(stack.demo!.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const seen: string[] = [];
    for (let i = 0; i < 12; i++) {
      await page.goto(`${stack.url}/`);
      const signOut = page.getByRole('button', { name: 'Sign out' });
      await signOut.waitFor();
      await page.waitForTimeout(i * 15);
      await signOut.click();
      await page.waitForTimeout(400);
      const h1 = await page.getByRole('heading', { level: 1 }).textContent();
      const form = await page.getByLabel('Billing token').count();
      seen.push(
        `${i * 15}ms: h1=${h1} form=${form} errors=${harness.problems.map((p) => p.text).join(' | ')}`,
      );
      harness.problems.length = 0;
      await page.getByLabel('Billing token').fill(stack.demo!.token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    }
    console.log(seen.join('\n'));
    expect(true).toBe(true);
  });
});
