/**
 * One queue task in its own process (`node task-child.js DIR STEP RANK`), started by `mmcurate worker`:
 * a task that crashes or runs out of memory takes only this process down, and the worker retries it.
 * The IPC channel to the worker is this process's lifeline: when the worker dies (kill -9 included), the
 * channel closes and the task stops at once, so the re-queued copy never runs next to an orphan.
 */
import v8 from 'node:v8';
import { errorMessage } from '../../errors.js';
import { runOneTask } from '../jobs.js';

// as bin/mmcurate does (a flag, not an execArgv: worker threads refuse that one in theirs)
v8.setFlagsFromString('--max-semi-space-size=64');

const orphaned = () => process.kill(process.pid, 'SIGKILL');
process.on('disconnect', orphaned);

const [dir, step, rankText] = process.argv.slice(2);
const t0 = Date.now();
// the same lines as `mmcurate task`, so a task's log reads the same whichever backend ran it
process.stderr.write(`task ${dir} ${step}/${rankText}: start ${new Date(t0).toISOString()}\n`);
try {
  const r = await runOneTask(dir!, step!, Number(rankText));
  process.stderr.write(`task ${dir} ${step}/${rankText}: ${r === 'already' ? 'already done' : `done in ${((Date.now() - t0) / 1000).toFixed(1)} s`}\n`);
  process.exitCode = 0;
} catch (err) {
  process.stderr.write(`mmcurate task ${dir} --step ${step} --rank ${rankText}: ${errorMessage(err)}\n`);
  process.exitCode = (err as { exitCode?: number }).exitCode === 2 ? 2 : 1;
}
// done: letting go of the channel is not the worker dying
process.off('disconnect', orphaned);
process.disconnect?.();
