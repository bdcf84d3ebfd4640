/**
 * One queue task in its own process (`node task-child.js DIR STEP RANK WORKER_PID`), started by
 * `mmcurate worker`: a task that crashes or runs out of memory takes only this process down, and the
 * worker retries it.
 * A watchdog thread stops it when its worker is gone (kill -9 included: this process is then adopted by
 * another parent), so the re-queued copy never runs next to an orphan. A thread of its own, with its own
 * event loop: a task busy in synchronous work (decoding, inference) would not see the IPC channel's
 * 'disconnect' event until it had finished. It compares the parent with the pid the worker passed, and is
 * set up before the task's modules load: a worker killed while they load is noticed too.
 */
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';

// as bin/mmcurate does (a flag, not an execArgv: worker threads refuse that one in theirs)
v8.setFlagsFromString('--max-semi-space-size=64');

const [dir, step, rankText, workerPid] = process.argv.slice(2);
const watchdog = `
const { workerData } = require('node:worker_threads');
const check = () => {
  if (process.ppid !== workerData) process.kill(process.pid, 'SIGKILL');
};
check();
setInterval(check, 250);
`;
new Worker(watchdog, { eval: true, workerData: Number(workerPid) }).unref();

// loaded once the watchdog is up (loading them takes a while on a busy machine)
const { errorMessage } = await import('../../errors.js');
const { runOneTask } = await import('../jobs.js');

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
// now: the watchdog thread must not keep the process waiting
process.exit();
