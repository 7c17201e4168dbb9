// The one clock: every part of the system (handlers, jobs, caches, emulators) reads time here, so the local
// stack can move time for all of them at once (`POST /__local/clock`).

let offsetMs = 0;

export function nowMs(): number {
  return Date.now() + offsetMs;
}

export function now(): Date {
  return new Date(nowMs());
}

export function nowIso(): string {
  return now().toISOString();
}

/** Moves this process's clock so that `nowMs()` reads `at`. Local mode and tests only. */
export function setClock(at: Date): void {
  offsetMs = at.getTime() - Date.now();
}

export function resetClock(): void {
  offsetMs = 0;
}

/** Advances this process's clock by `ms`. Tests only. */
export function advanceClock(ms: number): void {
  offsetMs += ms;
}
