// Benchmark figures: each script adds its own section to bench/results/latest.json, keeping the others;
// and what the HTTP benches share.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIFTED_RATE_LIMITS } from './floor.ts';

const resultsDir = join(fileURLToPath(new URL('..', import.meta.url)), 'bench', 'results');
const latestPath = join(resultsDir, 'latest.json');

export function mergeResults(section: string, figures: Record<string, unknown>): void {
  mkdirSync(resultsDir, { recursive: true });
  let latest: Record<string, unknown> = {};
  try {
    latest = JSON.parse(readFileSync(latestPath, 'utf8')) as Record<string, unknown>;
  } catch {
    // no earlier figures: start a new file
  }
  writeFileSync(latestPath, `${JSON.stringify({ ...latest, [section]: figures }, null, 2)}\n`);
}

/** Nearest-rank percentile of samples sorted ascending. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `npm start`'s stack in memory, with its demo account, no jobs and no output: what the HTTP benches time. */
export async function startBenchStack() {
  const { startLocalStack } = await import('../local/server.ts');
  const rateLimits = Object.fromEntries(
    Object.entries(LIFTED_RATE_LIMITS).map(([name, value]) => [name, Number(value)]),
  );
  return startLocalStack({
    port: 0,
    adminApiKey: 'bench',
    seedDemo: true,
    runJobs: false,
    quiet: true,
    rateLimits,
  });
}
