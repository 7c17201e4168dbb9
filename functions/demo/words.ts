// POST /v1/demo/words: the reference per-unit feature (0.0001 USD a word), held before and settled after.
import * as z from 'zod/mini';
import { countWords, estimateWords } from '#shared/demo/words.ts';
import { paidFeature } from '#shared/metering/metered.ts';

export const wordsBody = z.strictObject({ text: z.string().check(z.maxLength(50_000)) });
export const wordsResults = z.object({ words: z.number().check(z.int(), z.gte(0)) });

export const handler = paidFeature({
  feature: 'words',
  body: wordsBody,
  results: wordsResults,
  estimate: ({ text }) => estimateWords(text),
  run: ({ text }) => {
    const words = countWords(text);
    return { results: { words }, quantity: words };
  },
});
