/**
 * A failed write, as a user can act on it: the stage, what was being written, the file, the cause in words,
 * and what to do. Node's own message (`ENOSPC: no space left on device, write`) names none of these.
 */
import { errorMessage, RunError } from '../errors.js';

const ADVICE: Record<string, string> = {
  ENOSPC: 'the disk is full: free space on it, or give an --out on another disk',
  EDQUOT: 'the disk quota is used up: free space, or give an --out elsewhere',
  EFBIG: 'the file is larger than this file system allows: lower --shard-mb',
  EACCES: 'permission denied: make the folder writable, or give another --out',
  EPERM: 'the operation is not permitted: make the folder writable, or give another --out',
  EROFS: 'the file system is read-only: give an --out on a writable disk',
  EIO: 'the device reported an I/O error: check the disk',
  EMFILE: 'too many open files: raise the limit (ulimit -n) or use fewer --workers',
  ENFILE: 'too many open files on the system: close some, or use fewer --workers',
  ENOTDIR: 'a part of the path is a file, not a folder: give another --out',
  EEXIST: 'a file stands where a folder should: give another --out',
};

export function writeError(err: unknown, o: { stage?: string; what: string; file: string }): RunError {
  const code = (err as NodeJS.ErrnoException).code;
  const advice = code ? ADVICE[code] : undefined;
  const why = advice ? `${advice} (${code}); then run the same command again: finished tasks are kept` : errorMessage(err);
  return new RunError(`${o.stage ? `${o.stage}: ` : ''}cannot write ${o.what} ${o.file}: ${why}`, { cause: err });
}
