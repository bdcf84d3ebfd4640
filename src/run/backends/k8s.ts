/**
 * `mmcurate run PIPELINE --out DIR --executor k8s --emit MANIFESTS`: writes Kubernetes manifests instead
 * of running anything (`kubectl apply -f MANIFESTS` starts them):
 *  - one Indexed Job per step: completions = the step's world, the rank from JOB_COMPLETION_INDEX, each
 *    index retried on its own (backoffLimitPerIndex). Jobs have no dependencies, so every task runs
 *    `mmcurate task ... --wait`, which waits for the earlier steps of its stage; pods of every stage but
 *    the first also have an init container, `mmcurate status PREVIOUS_STAGE --wait`, since a task may
 *    plan its stage from the previous stage's output. A rank already done exits 0 at once: applying the
 *    manifests again resumes;
 *  - a worker Deployment for the queue backend (`mmcurate worker`), scaled by hand;
 *  - a PersistentVolumeClaim placeholder (ReadWriteMany) mounted at the same path in every pod: OUT and
 *    the pipeline's inputs must lie on it, at the same path as where `run` wrote the plan.
 * Files are YAML (one object each, applied in name order), made with the `yaml` package.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Flags, Parsed } from '../../cli/args.js';
import { UsageError } from '../../errors.js';
import { ATTEMPTS, DEFAULT_ATTEMPTS, GPUS_PER_TASK, MAX_PARALLEL, QUEUE, REDIS, outTag, safeName } from './common.js';
import { taskArgv, type StepJob } from '../jobs.js';
import { DEFAULT_QUEUE } from './queue-flow.js';

export const flags: Flags = {
  emit: { type: 'string', help: 'k8s: write the manifests into this folder (then: kubectl apply -f FOLDER)' },
  image: { type: 'string', help: 'k8s: the container image built from the Dockerfile (default mmcurate:latest)' },
  pvc: { type: 'string', help: 'k8s: the shared PersistentVolumeClaim holding inputs and OUT (default mmcurate-data)' },
  mount: { type: 'string', help: 'k8s: where the claim is mounted in every pod (default: the --out folder); inputs must lie under it too' },
  namespace: { type: 'string', help: 'k8s: namespace of every object (default: kubectl\'s current one)' },
  'max-parallel': MAX_PARALLEL,
  'gpus-per-task': GPUS_PER_TASK,
  attempts: ATTEMPTS,
  redis: REDIS,
  queue: QUEUE,
};

/** The image's entry: bin/mmcurate as the Dockerfile installs it. */
export const IMAGE_BIN = ['node', '/app/bin/mmcurate'];

type Obj = Record<string, unknown>;

function meta(name: string, ns: string | undefined, labels: Record<string, string>): Obj {
  return { name, ...(ns ? { namespace: ns } : {}), labels: { 'app.kubernetes.io/name': 'mmcurate', ...labels } };
}

function podVolume(pvc: string, mount: string): { volumes: Obj[]; volumeMounts: Obj[] } {
  return { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: pvc } }], volumeMounts: [{ name: 'data', mountPath: mount }] };
}

export function stepJobManifest(job: StepJob, o: { name: string; image: string; pvc: string; mount: string; ns?: string; maxParallel?: number; gpus: number; attempts: number; tag: string; waitFor?: string }): Obj {
  const v = podVolume(o.pvc, o.mount);
  // `task --wait` waits for the steps before it in its own stage, but any task may be the one that plans
  // its stage, from the previous stage's output: so every pod first waits for that whole stage (exit 1
  // if it failed)
  const init = o.waitFor ? { initContainers: [{ name: 'wait-for-previous-stage', image: o.image, command: [...IMAGE_BIN, 'status', o.waitFor, '--wait', '--interval', '5'], volumeMounts: v.volumeMounts }] } : {};
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(o.name, o.ns, { 'mmcurate/out': o.tag, 'mmcurate/stage': safeName(job.stage), 'mmcurate/step': safeName(job.step) }),
    spec: {
      completionMode: 'Indexed',
      completions: job.world,
      parallelism: Math.min(job.world, o.maxParallel ?? job.world),
      // each rank retried on its own; one rank failing for good does not stop the others
      backoffLimitPerIndex: o.attempts - 1,
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': 'mmcurate', 'mmcurate/out': o.tag } },
        spec: {
          restartPolicy: 'Never',
          ...init,
          containers: [
            {
              name: 'task',
              image: o.image,
              // no --rank: the task reads JOB_COMPLETION_INDEX, which Kubernetes sets in an Indexed Job
              command: [...IMAGE_BIN, ...taskArgv(job), '--wait'],
              volumeMounts: v.volumeMounts,
              ...(job.gpu && o.gpus > 0 ? { resources: { limits: { 'nvidia.com/gpu': o.gpus } } } : {}),
            },
          ],
          volumes: v.volumes,
        },
      },
    },
  };
}

/** The folder of the stage before job i's stage, if any. */
function previousStage(jobs: StepJob[], i: number): string | undefined {
  for (let k = i - 1; k >= 0; k--) if (jobs[k]!.dir !== jobs[i]!.dir) return jobs[k]!.dir;
  return undefined;
}

export async function submit(jobs: StepJob[], opts: { out: string; flags: Parsed['flags']; bin: string[] }): Promise<number> {
  const f = opts.flags;
  const emit = f.emit as string | undefined;
  if (!emit) throw new UsageError('mmcurate run --executor k8s needs --emit FOLDER (the manifests are written there; apply them with kubectl apply -f FOLDER)');
  const out = path.resolve(opts.out);
  const mount = path.resolve((f.mount as string | undefined) ?? out);
  if (out !== mount && !out.startsWith(mount + path.sep)) throw new UsageError(`--mount ${mount}: the --out folder ${out} must lie under it (every pod reads and writes OUT on the shared volume)`);
  const dir = path.resolve(emit);
  mkdirSync(dir, { recursive: true });
  const tag = outTag(out);
  const ns = f.namespace as string | undefined;
  const image = (f.image as string | undefined) ?? 'mmcurate:latest';
  const pvc = (f.pvc as string | undefined) ?? 'mmcurate-data';
  const width = String(jobs.length + 1).length;
  const header = (what: string) => `# ${what}\n# written by mmcurate run --executor k8s for ${out}; apply the folder with: kubectl apply -f ${dir}\n`;
  const files: string[] = [];
  const write = (file: string, comment: string, obj: Obj) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), header(comment) + stringify(obj));
    files.push(file);
  };

  write(`${'0'.padStart(width, '0')}-pvc.yaml`, `the shared volume: a placeholder to adapt (size, storage class); it must be ReadWriteMany and hold the inputs and OUT at ${mount}`, {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta(pvc, ns, {}),
    spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '100Gi' } } },
  });
  jobs.forEach((job, i) => {
    const name = safeName(`mmcurate-${tag}-${i + 1}-${job.stage}-${job.step}`);
    write(`${String(i + 1).padStart(width, '0')}-${safeName(`${job.stage}-${job.step}`, 100)}.yaml`, `step ${i + 1} of ${jobs.length}: ${job.stage}/${job.step}, ${job.world} task(s)${job.gpu ? ', on GPUs' : ''}; its pods wait for step ${i}'s markers`, stepJobManifest(job, {
      name,
      image,
      pvc,
      mount,
      ns,
      maxParallel: f['max-parallel'] as number | undefined,
      gpus: (f['gpus-per-task'] as number | undefined) ?? 1,
      attempts: (f.attempts as number | undefined) ?? DEFAULT_ATTEMPTS,
      tag,
      waitFor: previousStage(jobs, i),
    }));
  });
  const redis = (f.redis as string | undefined) ?? 'redis://redis:6379';
  const queue = (f.queue as string | undefined) ?? DEFAULT_QUEUE;
  const v = podVolume(pvc, mount);
  // in a subfolder: `kubectl apply -f DIR` (not recursive) starts the Jobs, not the workers
  write(path.join('queue', 'worker-deployment.yaml'), 'queue mode instead of the Jobs: workers that run tasks enqueued by `mmcurate run ... --executor queue --redis URL` (kubectl apply -f this file, then kubectl scale deployment --replicas N)', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(safeName(`mmcurate-worker-${queue}`), ns, { 'mmcurate/queue': safeName(queue) }),
    spec: {
      replicas: 1,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'mmcurate', 'mmcurate/queue': safeName(queue) } },
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': 'mmcurate', 'mmcurate/queue': safeName(queue) } },
        spec: {
          // SIGTERM lets running tasks finish; a task cut off later is re-queued by the stalled check
          terminationGracePeriodSeconds: 600,
          containers: [{ name: 'worker', image, command: [...IMAGE_BIN, 'worker', '--redis', redis, '--queue', queue], volumeMounts: v.volumeMounts }],
          volumes: v.volumes,
        },
      },
    },
  });
  process.stdout.write(`wrote ${files.length} manifest(s) to ${dir}:\n${files.map((x) => `  ${x}`).join('\n')}\nrun the steps with: kubectl apply -f ${dir}; follow with: mmcurate status ${out} --wait (or kubectl get jobs -l mmcurate/out=${tag})\n`);
  return 0;
}
