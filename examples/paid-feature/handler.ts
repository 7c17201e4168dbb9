// An example paid feature: POST /v1/summarize answers the first sentence of a text, 0.01 USD a call.
import * as z from 'zod/mini';
import { ValidationError } from '#shared/errors.ts';
import { paidFeature } from '#shared/metering/metered.ts';

/** What the caller sends: validated before anything is charged (a bad body is a 400 naming the field). */
export const summarizeBody = z.strictObject({
  text: z.string().check(z.maxLength(20_000)),
});

/** What `results` holds in the answer `{"results": {...}, "cost": 0.01}`. */
export const summarizeResults = z.object({ summary: z.string() });

export const handler = paidFeature({
  feature: 'summarize', // its name in the price catalog
  body: summarizeBody,
  results: summarizeResults,
  // Per-unit features only: an upper bound of the quantity, held before the feature runs.
  // estimate: ({ text }) => text.length,
  run: ({ text }) => {
    const summary = text.split(/(?<=[.!?])\s/)[0]?.trim();
    // The feature's own refusal: a DomainError is its 4xx, and nothing is charged.
    if (!summary) throw new ValidationError([{ field: 'text', problem: 'has nothing to summarize' }]);
    return { results: { summary } /*, quantity: n (per-unit features) */ };
  },
});
