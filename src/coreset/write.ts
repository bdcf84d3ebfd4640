/** The write task (phase 2): kept rows with their metadata, rejects with their step. */
import type { TaskContext, TaskOutput } from '../run/executor.js';
import type { CoresetTaskSpec } from './layout.js';

export async function writeTask(_spec: CoresetTaskSpec, _ctx: TaskContext): Promise<TaskOutput> {
  throw new Error('coreset write step not implemented yet');
}
