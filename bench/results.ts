// Benchmark figures: each script adds its own section to bench/results/latest.json, keeping the others.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
