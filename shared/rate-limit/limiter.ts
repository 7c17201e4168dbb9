// The rate limiter's state in one instance: a token bucket per token and per account (the ceiling across its
// tokens), and what it shares with the other instances serving them. No IO of its own: the shared count is
// given as a function (shared-count.ts in the functions, a fake in unit tests) and the clock as a number.
//
// Sharing: an instance adds what its buckets let through to a count per token and per account, at most once
// per `syncIntervalMs` per active subject, and only after letting a request through (a refusal never writes).
// The answer is the total over all instances; what the others let through since this instance's previous
// sync is taken off its bucket, which may go negative (owed). So after its first sync every instance's bucket
// follows the one shared bucket, late by at most one interval. The first sync only learns where the count
// stands (its history is unknown), so a new instance starts with a full bucket: see README, "Rate limits".
import type { RateLimit } from '../config.ts';
import { type Bucket, fullBucket, hasRoom, refill, retryAfterSeconds } from './bucket.ts';

/** Adds `delta` to a subject's shared count and answers the count after the addition. */
export type SharedCount = (subject: string, delta: number) => Promise<number>;

export type Subject = { key: string; limit: RateLimit };

export type Decision = { admitted: true } | { admitted: false; retryAfterSeconds: number };

type Entry = {
  bucket: Bucket;
  /** Let through here and not yet added to the shared count. */
  unshared: number;
  lastSyncMs: number;
  /** The shared count as this instance last saw it, after its own addition; unknown before its first sync. */
  seen?: number;
  syncing: boolean;
};

export type LimiterOptions = {
  share?: SharedCount;
  syncIntervalMs?: number;
  /** Subjects remembered; the oldest is forgotten past it (it comes back with a full bucket). */
  maxSubjects?: number;
  onSyncError?: (error: unknown) => void;
};

export class RateLimiter {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly syncIntervalMs: number;
  private readonly maxSubjects: number;
  private readonly options: LimiterOptions;

  constructor(options: LimiterOptions = {}) {
    this.options = options;
    this.syncIntervalMs = options.syncIntervalMs ?? 1000;
    this.maxSubjects = options.maxSubjects ?? 10_000;
  }

  /**
   * Lets one request through when every subject's bucket has room (taking one from each), else refuses it
   * with the longest wait among the full ones and takes nothing.
   */
  admit(subjects: Subject[], nowMs: number, share = this.options.share !== undefined): Decision {
    const entries = subjects.map((subject) => this.entryFor(subject, nowMs));
    let wait = 0;
    subjects.forEach((subject, i) => {
      const { bucket } = entries[i]!;
      refill(bucket, subject.limit, nowMs);
      if (!hasRoom(bucket)) wait = Math.max(wait, retryAfterSeconds(bucket, subject.limit));
    });
    if (wait > 0) return { admitted: false, retryAfterSeconds: wait };
    subjects.forEach((subject, i) => {
      const entry = entries[i]!;
      entry.bucket.tokens -= 1;
      entry.unshared += 1;
      if (share && !entry.syncing && nowMs - entry.lastSyncMs >= this.syncIntervalMs) {
        this.sync(subject.key, entry, nowMs);
      }
    });
    return { admitted: true };
  }

  /** Resolves once every sync started so far has been applied (tests and the bench). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Tokens left in a subject's bucket as last computed (tests). */
  tokensOf(key: string): number | undefined {
    return this.entries.get(key)?.bucket.tokens;
  }

  clear(): void {
    this.entries.clear();
  }

  private entryFor(subject: Subject, nowMs: number): Entry {
    let entry = this.entries.get(subject.key);
    if (!entry) {
      if (this.entries.size >= this.maxSubjects) this.entries.delete(this.entries.keys().next().value!);
      entry = { bucket: fullBucket(subject.limit, nowMs), unshared: 0, lastSyncMs: nowMs, syncing: false };
      this.entries.set(subject.key, entry);
    }
    return entry;
  }

  private sync(key: string, entry: Entry, nowMs: number): void {
    const share = this.options.share;
    if (!share) return;
    const delta = entry.unshared;
    entry.unshared = 0;
    entry.syncing = true;
    entry.lastSyncMs = nowMs;
    const done = share(key, delta)
      .then((total) => applyTotal(entry, total, delta))
      .catch((error: unknown) => {
        // Not shared this time: counted again with the next sync, so the others learn it late, not never.
        entry.unshared += delta;
        this.options.onSyncError?.(error);
      })
      .finally(() => {
        entry.syncing = false;
        this.inFlight.delete(done);
      });
    this.inFlight.add(done);
  }
}

/** Takes what the other instances let through since this one's previous sync off its bucket. */
export function applyTotal(entry: Pick<Entry, 'bucket' | 'seen'>, total: number, delta: number): void {
  const before = total - delta;
  // Unknown history (first sync), or a count that restarted (its item expired): only learn where it stands.
  if (entry.seen !== undefined && before >= entry.seen) entry.bucket.tokens -= before - entry.seen;
  entry.seen = total;
}
