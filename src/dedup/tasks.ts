/**
 * The dedup stage's rank tasks (command.ts declares the steps): parts (input shards) go to ranks in
 * contiguous runs, buckets strided; each item keeps its own file names, so what is written does not depend
 * on --tasks.
 */
import { contiguous, eachItem, strided, type TaskContext, type TaskOutput } from '../run/contract.js';
import type { DedupSpec } from './layout.js';

export async function runTask(spec: DedupSpec, ctx: TaskContext): Promise<TaskOutput> {
  const parts = (): number[] => contiguous(spec.parts.map((p) => p.rows), ctx.world)[ctx.rank]!;
  const buckets = (): number[] => strided(spec.buckets, ctx.rank, ctx.world);
  switch (spec.step) {
    case 'hash': {
      const { hashPart } = await import('./exact.js');
      return eachItem(parts(), (p) => hashPart(spec, p, ctx));
    }
    case 'resolve': {
      const { resolveBucket } = await import('./exact.js');
      return eachItem(buckets(), (b) => resolveBucket(spec, b, ctx));
    }
    case 'sign': {
      const { signPart } = await import('./near.js');
      return eachItem(parts(), (p) => signPart(spec, p, ctx));
    }
    case 'bands': {
      const { bandsBucket } = await import('./near.js');
      return eachItem(buckets(), (b) => bandsBucket(spec, b, ctx));
    }
    case 'components': {
      const { components } = await import('./near.js');
      return components(spec, ctx);
    }
    case 'write': {
      const { writePart } = await import('./write.js');
      return eachItem(parts(), (p) => writePart(spec, p, ctx));
    }
  }
}
