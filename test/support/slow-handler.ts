// A stand-in Lambda handler for the local gateway's timeout test: waits `?delay_ms=` before answering 200, and
// leaves what it saw (the remaining time) and when it finished where the test can read them.
import type { Context } from 'aws-lambda';

export type SlowHandlerRun = { remainingAtStartMs: number; finished: Promise<void>; done: boolean };

type Runs = { __slowHandlerRuns?: SlowHandlerRun[] };

export function slowHandlerRuns(): SlowHandlerRun[] {
  const global = globalThis as Runs;
  global.__slowHandlerRuns ??= [];
  return global.__slowHandlerRuns;
}

export async function handler(
  event: { queryStringParameters?: Record<string, string> },
  context: Context,
): Promise<{ statusCode: number; headers: Record<string, string>; body: string }> {
  const delayMs = Number(event.queryStringParameters?.delay_ms ?? 0);
  let finish = () => {};
  const run: SlowHandlerRun = {
    remainingAtStartMs: context.getRemainingTimeInMillis(),
    finished: new Promise((resolve) => {
      finish = resolve;
    }),
    done: false,
  };
  slowHandlerRuns().push(run);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  run.done = true;
  finish();
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ waited_ms: delayMs }),
  };
}
