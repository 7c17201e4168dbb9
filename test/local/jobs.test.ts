// The local job runner: timer runs never overlap, on-demand runs wait their turn, stop() ends the timers.
import { describe, expect, it } from 'vitest';
import type { Job } from '#infra/definitions/jobs.ts';
import { createJobRunner } from '../../local/jobs.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function slowJob() {
  const job: Job = { name: 'slow', function: 'expireHolds', schedule: 'rate(1 minute)', localEveryMs: 10 };
  const state = { calls: 0, active: 0, maxActive: 0, detailTypes: new Set<string>() };
  const runner = createJobRunner({
    jobs: [job],
    log: () => {},
    invoke: async (_name, event) => {
      state.calls++;
      state.active++;
      state.maxActive = Math.max(state.maxActive, state.active);
      state.detailTypes.add(event['detail-type']);
      await sleep(40);
      state.active--;
      return { run: state.calls };
    },
  });
  return { runner, state };
}

describe('local job runner', () => {
  it('starts jobs on their period without overlapping a run, and stops', async () => {
    const { runner, state } = slowJob();
    runner.start();
    await sleep(200);
    await runner.stop();
    const calls = state.calls;
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(state.maxActive).toBe(1);
    expect([...state.detailTypes]).toEqual(['Scheduled Event']);
    await sleep(50);
    expect(state.calls).toBe(calls);
  });

  it('runs on demand after the run in progress, and knows only its jobs', async () => {
    const { runner, state } = slowJob();
    const [first, second] = await Promise.all([runner.run('slow'), runner.run('slow')]);
    expect([first, second]).toEqual([{ result: { run: 1 } }, { result: { run: 2 } }]);
    expect(state.maxActive).toBe(1);
    expect(await runner.run('other')).toBeUndefined();
  });
});
