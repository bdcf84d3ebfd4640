/** The stage contract the cluster backends build on (src/run/jobs.ts), in one place. */
export type { StepJob } from '../jobs.js';
export { pendingRanks, taskArgv, runOneTask } from '../jobs.js';
