// Local stack: the JSON files `npm start` keeps its emulators' state in. A write goes to a temporary file
// that is then renamed over the old one, so a crash leaves either the old state or the new, never half.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

export class StateFileUnreadableError extends Error {
  override readonly name = 'StateFileUnreadableError';
  constructor(path: string, cause: unknown) {
    super(
      `${path} is not a state file this version can read; delete it or start with \`npm start -- --fresh\``,
      {
        cause,
      },
    );
  }
}

/** The parsed file, or `undefined` when there is none yet. */
export function readStateFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new StateFileUnreadableError(path, error);
  }
}

export function writeStateFile(path: string, value: unknown): void {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, JSON.stringify(value));
    // Without it a power cut after the rename could leave an empty file under the real name.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

export type StateWriter = {
  /** Something changed: the state is written within `delayMs`. */
  changed(): void;
  /** Writes now if anything changed since the last write (on stop). */
  flush(): void;
};

/**
 * Writes `snapshot()` to `path` at most once per `delayMs` while changes keep coming: a burst of requests
 * costs one write, and a crash loses at most the last `delayMs` of changes.
 */
export function debouncedStateWriter(
  path: string,
  snapshot: () => unknown,
  delayMs: number,
  onError: (error: unknown) => void,
): StateWriter {
  let timer: NodeJS.Timeout | undefined;
  const write = () => {
    timer = undefined;
    try {
      writeStateFile(path, snapshot());
    } catch (error) {
      onError(error);
    }
  };
  return {
    changed() {
      timer ??= setTimeout(write, delayMs);
    },
    flush() {
      if (!timer) return;
      clearTimeout(timer);
      write();
    },
  };
}
