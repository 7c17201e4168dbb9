// `npm start`'s data directory: DynamoDB Local's files, the emulators' state and the stack's own settings
// (generated keys, the demo account), held by one running stack at a time through a lock file.
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';
import { readStateFile, StateFileUnreadableError, writeStateFile } from './state-file.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const LOCK_FILE = 'lock';

/** `LOCAL_DATA_DIR` (relative to the project when not absolute), else `.local-data/` in the project. */
export function dataDirectoryFromEnvironment(): string {
  const configured = process.env.LOCAL_DATA_DIR;
  if (!configured) return join(repoRoot, '.local-data');
  return isAbsolute(configured) ? configured : resolve(repoRoot, configured);
}

export class DataDirectoryInUseError extends Error {
  override readonly name = 'DataDirectoryInUseError';
  constructor(directory: string, pid: number) {
    super(
      `${directory} is in use by another npm start (pid ${pid}); stop it or set LOCAL_DATA_DIR to another folder`,
    );
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockHolder(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export type DataDirectoryLock = { release(): void };

/**
 * Takes the directory for this process, creating it if needed. A lock whose process is gone (a run that was
 * killed) is taken over; one held by a running process throws `DataDirectoryInUseError`, and nothing in the
 * directory is touched.
 */
export function lockDataDirectory(directory: string): DataDirectoryLock {
  mkdirSync(directory, { recursive: true });
  const lockPath = join(directory, LOCK_FILE);
  // The pid is written before the lock exists under its name (link is atomic and refuses an existing
  // name), so no reader ever sees a lock without its holder.
  const candidate = join(directory, `${LOCK_FILE}.${process.pid}`);
  writeFileSync(candidate, String(process.pid));
  try {
    for (;;) {
      try {
        linkSync(candidate, lockPath);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = lockHolder(lockPath);
      if (holder !== undefined && holder !== process.pid && isRunning(holder)) {
        throw new DataDirectoryInUseError(directory, holder);
      }
      rmSync(lockPath, { force: true });
    }
  } finally {
    rmSync(candidate, { force: true });
  }
  return {
    release() {
      if (lockHolder(lockPath) === process.pid) rmSync(lockPath, { force: true });
    },
  };
}

/** `--fresh`: everything but the lock goes, so the next start begins empty. */
export function emptyDataDirectory(directory: string): void {
  for (const entry of readdirSync(directory)) {
    if (entry !== LOCK_FILE) rmSync(join(directory, entry), { recursive: true, force: true });
  }
}

const stackStateSchema = z.object({
  /** Only when generated: an `ADMIN_API_KEY` from the environment is never written down. */
  adminApiKey: z.optional(z.string()),
  stripeWebhookSecret: z.optional(z.string()),
  /** Stored checkout and invoice URLs name the Stripe emulator's port, so later starts reuse it. */
  stripePort: z.optional(z.number()),
  /** The plaintext demo token (the table keeps only its hash), so every start's banner can show it. */
  demo: z.optional(z.object({ accountId: z.string(), token: z.string() })),
});

export type StackState = z.infer<typeof stackStateSchema>;

export function stackStatePath(directory: string): string {
  return join(directory, 'stack.json');
}

export function readStackState(directory: string): StackState {
  const path = stackStatePath(directory);
  const parsed = stackStateSchema.safeParse(readStateFile(path) ?? {});
  if (!parsed.success) throw new StateFileUnreadableError(path, parsed.error);
  return parsed.data;
}

export function writeStackState(directory: string, state: StackState): void {
  writeStateFile(stackStatePath(directory), state);
}
