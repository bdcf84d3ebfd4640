/**
 * Runs an async function over a stream with bounded concurrency and yields the results in input order:
 * image decoding overlaps across items while memory holds at most `window` items in flight.
 */
export async function* mapOrdered<T, R>(items: AsyncIterable<T>, window: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const pending: Promise<R>[] = [];
  for await (const item of items) {
    pending.push(fn(item));
    if (pending.length >= window) yield await pending.shift()!;
  }
  while (pending.length) yield await pending.shift()!;
}
