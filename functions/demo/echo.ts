// POST /v1/demo/echo: the reference fixed-price feature (0.002 USD a call in the default catalog).
import * as z from 'zod/mini';
import { paidFeature } from '#shared/metering/metered.ts';

export const echoBody = z.strictObject({ text: z.string().check(z.maxLength(10_000)) });
export const echoResults = z.object({ echo: z.string() });

export const handler = paidFeature({
  feature: 'echo',
  body: echoBody,
  results: echoResults,
  run: ({ text }) => ({ results: { echo: text } }),
});
