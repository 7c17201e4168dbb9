// The word counter behind the reference per-unit feature.

export function countWords(text: string): number {
  return text.split(/\s+/).filter((word) => word.length > 0).length;
}

/** The contract's estimate: the text's length / 2 words, at least 1. Never below the actual count. */
export function estimateWords(text: string): number {
  return Math.max(1, Math.ceil(text.length / 2));
}
