// The one clock: every part of the system (handlers, jobs, caches, emulators) reads time here, so the local
// stack can move time for all of them at once (`POST /__local/clock`).

let offsetMs = 0;
let frozenAtMs: number | undefined;

export function nowMs(): number {
  return frozenAtMs ?? Date.now() + offsetMs;
}

export function now(): Date {
  return new Date(nowMs());
}

export function nowIso(): string {
  return now().toISOString();
}

/** Moves this process's clock so that `nowMs()` reads `at`. Local mode and tests only. */
export function setClock(at: Date): void {
  frozenAtMs = undefined;
  offsetMs = at.getTime() - Date.now();
}

/** Stops this process's clock at `at` (boundaries to the millisecond, such as 23:59:59.999). Tests only. */
export function freezeClock(at: Date): void {
  frozenAtMs = at.getTime();
}

export function resetClock(): void {
  offsetMs = 0;
  frozenAtMs = undefined;
}

/** Advances this process's clock by `ms`. Tests only. */
export function advanceClock(ms: number): void {
  if (frozenAtMs !== undefined) frozenAtMs += ms;
  else offsetMs += ms;
}
