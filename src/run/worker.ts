/** Worker-thread entry: runs one task of a stage and reports progress and its result to the executor. */
import { parentPort, workerData } from 'node:worker_threads';
import type { TaskFn } from './executor.js';

const { moduleUrl, spec, rank, world, outDir } = workerData as { moduleUrl: string; spec: unknown; rank: number; world: number; outDir: string };
let units = 0, records = 0, last = Date.now();
const report = (u: number, n: number): void => {
  units += u;
  records += n;
  const now = Date.now();
  if (now - last > 200) {
    parentPort!.postMessage({ type: 'progress', units, records });
    units = records = 0;
    last = now;
  }
};
try {
  const mod = (await import(moduleUrl)) as { runTask: TaskFn<unknown> };
  const result = await mod.runTask(spec, { rank, world, outDir, report });
  if (units || records) parentPort!.postMessage({ type: 'progress', units, records });
  parentPort!.postMessage({ type: 'done', result });
} catch (err) {
  parentPort!.postMessage({ type: 'error', message: (err as Error).message ?? String(err), exitCode: (err as { exitCode?: number }).exitCode ?? 1 });
}
