// POST /v1/demo/echo: the reference fixed-price feature (0.002 USD a call in the default catalog).
import { z } from 'zod';
import { paidFeature } from '#shared/metering/metered.ts';

export const handler = paidFeature({
  feature: 'echo',
  body: z.object({ text: z.string().max(10_000) }).strict(),
  run: ({ text }) => ({ results: { echo: text } }),
});
