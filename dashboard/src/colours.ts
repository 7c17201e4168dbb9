// Dashboard: one colour per feature, derived from the feature's name alone (FNV-1a hash → palette), so a
// feature has the same colour in every account, every chart and every visit, whatever else was used.

/** Each at least 3:1 against white (WCAG non-text contrast), and distinguishable with common colour blindness. */
export const FEATURE_PALETTE = ['#1f5fbf', '#c2410c', '#047857', '#7c3aed', '#b91c1c', '#0e7490', '#a16207'];

/** The 32-bit FNV-1a hash of the name's UTF-16 code units: small, and the same in every browser. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** The feature's colour: always the same for the same name. */
export function featureColour(feature: string): string {
  return FEATURE_PALETTE[fnv1a(feature) % FEATURE_PALETTE.length]!;
}
