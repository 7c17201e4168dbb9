// POST /v1/demo/echo: the reference fixed-price feature (0.002 USD a call in the default catalog).
import * as z from 'zod/mini';
import { paidFeature } from '#shared/metering/metered.ts';

export const handler = paidFeature({
  feature: 'echo',
  body: z.strictObject({ text: z.string().check(z.maxLength(10_000)) }),
  run: ({ text }) => ({ results: { echo: text } }),
});
