// A local stand-in for an SQS event source with a concurrency limit: batches wait for one of `concurrency`
// slots and are handed to the worker, and each caller gets its own batch's result.

export function workPool<T, R>(
  run: (batch: T[]) => Promise<R>,
  concurrency: number,
): (batch: T[]) => Promise<R> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (batch) => {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await run(batch);
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
