// The README's metering API example (examples/metering-api/charge.ts) runs over HTTP against the local stack:
// it charges the customer once per call id, its 402 charges nothing, and the README quotes it exactly.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chargeCall } from '../../examples/metering-api/charge.ts';
import { stackClient } from '../support/http.ts';
import { useLocalStack } from '../support/stack.ts';

const ADMIN_KEY = 'examples-metering-admin-key';
const stack = useLocalStack('examples-metering', { adminApiKey: ADMIN_KEY });
const http = stackClient(() => stack().url, ADMIN_KEY);

describe('examples/metering-api', () => {
  it('charges the customer once per call id, and answers the 402 without charging', async () => {
    const opened = await http('POST', '/admin/accounts', { admin: true, body: { name: 'Example customer' } });
    const { account_id: accountId, token } = opened.body as { account_id: string; token: string };
    await http('POST', `/admin/accounts/${accountId}/credits`, {
      admin: true,
      body: { amount: 0.003, reason: 'example' },
    });
    const key = (await http('POST', '/admin/service-keys', { admin: true, body: { name: 'example' } })).body
      .key as string;

    const first = await chargeCall(stack().url, key, token, 'call-1');
    expect(first).toMatchObject({
      account_id: accountId,
      feature: 'echo',
      cost: 0.002,
      credits_remaining: 0.001,
    });
    expect(await chargeCall(stack().url, key, token, 'call-1')).toEqual(first);
    expect(await chargeCall(stack().url, key, token, 'call-2')).toEqual({
      error: 'Insufficient credits',
      code: 'insufficient_credits',
    });
    const credits = await http('GET', '/v1/credits', { token });
    expect(credits.body.balance).toBe(0.001);
  });

  it('is quoted in the README exactly as it is in the repository', () => {
    const path = 'examples/metering-api/charge.ts';
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const quoted = new RegExp(`<!-- quote: ${path} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(readme)?.[1];
    expect(quoted).toBe(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8'));
  });
});
