/**
 * The two failures a user can meet, each with its exit code: a mistake in how the tool was called or
 * configured (2), and a failure while running (1). Messages name what was wrong, where, and what to do.
 */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class RunError extends Error {
  readonly exitCode = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RunError';
  }
}

/** Returns `value` when `ok`, else throws a UsageError with the message: validation that reads inline. */
export function check<T>(value: T, ok: boolean, message: string): T {
  if (!ok) throw new UsageError(message);
  return value;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
