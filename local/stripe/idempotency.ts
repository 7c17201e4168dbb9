// Stripe emulator: idempotent requests. Every POST's `Idempotency-Key` is kept for 24 hours on the clock
// with a fingerprint of method, path and parameters and the answer given: the same key replays that answer,
// the same key with anything else is an `idempotency_error`.
import { createHash } from 'node:crypto';
import { nowMs } from '#shared/clock.ts';
import type { FormObject } from './form.ts';

const KEEP_MS = 24 * 60 * 60 * 1000;

export type SavedAnswer = { status: number; body: string; requestId: string };

export type IdempotencyEntry = { key: string; fingerprint: string; answer: SavedAnswer; expiresAt: number };

function canonical(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
  );
}

export function fingerprint(method: string, path: string, params: FormObject): string {
  return createHash('sha256')
    .update(JSON.stringify([method, path, canonical(params)]))
    .digest('hex');
}

export type IdempotencyCache = {
  /** The saved answer, `'mismatch'` when the key was used for another request, or `undefined`. */
  lookup(key: string, fingerprint: string): SavedAnswer | 'mismatch' | undefined;
  save(key: string, fingerprint: string, answer: SavedAnswer): void;
  /** The keys still kept, for a restart: a retry after it must still replay, not charge again. */
  saved(): IdempotencyEntry[];
};

export function createIdempotencyCache(restored: IdempotencyEntry[] = []): IdempotencyCache {
  const entries = new Map<string, IdempotencyEntry>(restored.map((entry) => [entry.key, entry]));
  const prune = () => {
    const now = nowMs();
    for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
  };
  return {
    lookup(key, print) {
      prune();
      const entry = entries.get(key);
      if (!entry) return undefined;
      return entry.fingerprint === print ? entry.answer : 'mismatch';
    },
    save(key, print, answer) {
      entries.set(key, { key, fingerprint: print, answer, expiresAt: nowMs() + KEEP_MS });
    },
    saved() {
      prune();
      return [...entries.values()];
    },
  };
}
