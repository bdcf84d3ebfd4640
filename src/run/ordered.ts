/**
 * Runs an async function over a stream with bounded concurrency and yields the results in input order:
 * image decoding overlaps across items while memory holds at most `window` items in flight. If the source
 * fails part-way (a truncated tar), the items read before the failure are still delivered, then the error.
 */
export async function* mapOrdered<T, R>(items: AsyncIterable<T>, window: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const pending: Promise<R>[] = [];
  let failure: { err: unknown } | undefined;
  try {
    for await (const item of items) {
      pending.push(fn(item));
      if (pending.length >= window) yield await pending.shift()!;
    }
  } catch (err) {
    failure = { err };
  }
  while (pending.length) yield await pending.shift()!;
  if (failure) throw failure.err;
}
