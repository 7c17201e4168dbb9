// Local stack: the scheduled jobs, started by a timer on each job's local period (EventBridge's part in the
// cloud) and on demand by `POST /__local/jobs/{name}`.
import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';
import type { FunctionName } from '#infra/definitions/functions.ts';
import { type Job, jobs as jobTable } from '#infra/definitions/jobs.ts';
import { nowIso } from '#shared/clock.ts';

export type JobRunner = {
  /** Runs a job now, after any run of it already in progress; `undefined` for an unknown job. */
  run(name: string): Promise<{ result: unknown } | undefined>;
  /** Starts the timers. */
  start(): void;
  /** Clears the timers and waits for runs in progress. */
  stop(): Promise<void>;
};

export type JobRunnerOptions = {
  invoke: (functionName: FunctionName, event: ScheduledEvent) => Promise<unknown>;
  log: (message: string) => void;
  jobs?: Job[];
};

export function scheduledEvent(job: Job): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: nowIso(),
    region: 'us-east-1',
    resources: [`arn:aws:events:us-east-1:000000000000:rule/credits-local-${job.name}`],
    detail: {},
  };
}

export function createJobRunner({ invoke, log, jobs = jobTable }: JobRunnerOptions): JobRunner {
  const running = new Map<string, Promise<unknown>>();
  const timers: NodeJS.Timeout[] = [];

  async function runExclusive(job: Job): Promise<unknown> {
    for (let current = running.get(job.name); current; current = running.get(job.name)) {
      await current.catch(() => {});
    }
    const run = invoke(job.function, scheduledEvent(job));
    running.set(job.name, run);
    try {
      return await run;
    } finally {
      if (running.get(job.name) === run) running.delete(job.name);
    }
  }

  async function tick(job: Job): Promise<void> {
    // A slow run is not stacked on: the next start waits for the next tick.
    if (running.has(job.name)) return;
    try {
      const result = await runExclusive(job);
      log(`job ${job.name}: ${JSON.stringify(result) ?? 'done'}`);
    } catch (error) {
      console.error(`job ${job.name} failed:`, error);
    }
  }

  return {
    async run(name) {
      const job = jobs.find((j) => j.name === name);
      if (!job) return undefined;
      return { result: await runExclusive(job) };
    },
    start() {
      for (const job of jobs) {
        const timer = setInterval(() => void tick(job), job.localEveryMs);
        timer.unref();
        timers.push(timer);
      }
    },
    async stop() {
      for (const timer of timers.splice(0)) clearInterval(timer);
      await Promise.allSettled(running.values());
    },
  };
}
