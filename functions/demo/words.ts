// POST /v1/demo/words: the reference per-unit feature (0.0001 USD a word), held before and settled after.
import { z } from 'zod';
import { countWords, estimateWords } from '#shared/demo/words.ts';
import { paidFeature } from '#shared/metering/metered.ts';

export const handler = paidFeature({
  feature: 'words',
  body: z.object({ text: z.string().max(50_000) }).strict(),
  estimate: ({ text }) => estimateWords(text),
  run: ({ text }) => {
    const words = countWords(text);
    return { results: { words }, quantity: words };
  },
});
