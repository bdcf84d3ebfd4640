/**
 * The Kubernetes emitter, without a cluster: the manifests parse and hold what a cluster needs (Indexed
 * Jobs with the step's world, per-index retries, GPU limits on GPU steps, the shared claim, the worker
 * Deployment), and each pod's command, run here as a process per index with JOB_COMPLETION_INDEX set (the
 * steps overlapping, as all Jobs start at once on a cluster), gives the local executor's shards byte for
 * byte, with one pod killed mid-task and started again (backoffLimitPerIndex) and two pods racing per
 * index of the score step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { main } from '../src/cli/main.js';
import { IMAGE_BIN } from '../src/run/backends/k8s.js';
import { markerPath, runningPath } from '../src/run/markers.js';
import { tmpDir } from './helpers.js';
import { BIN, DEMO_PIPELINE, TASKS, accounting, leftovers, reference, shardHashes } from './cluster-helpers.js';

interface Container {
  command: string[];
  resources?: { limits?: Record<string, number> };
  volumeMounts: { name: string; mountPath: string }[];
}
interface Manifest {
  kind: string;
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    backoffLimitPerIndex?: number;
    template: { spec: { restartPolicy?: string; initContainers?: Container[]; containers: Container[]; volumes: { persistentVolumeClaim: { claimName: string } }[] } };
  };
}

interface Pod {
  /** The process running now: an init container's, then the task's. */
  child?: ChildProcess;
  log: string;
  exit: Promise<number | string>;
}

/** One container here: its command with the image's mmcurate replaced by this checkout's. */
function container(p: Pod, command: string[], index: number): Promise<number | string> {
  assert.deepEqual(command.slice(0, IMAGE_BIN.length), IMAGE_BIN);
  const child = spawn(process.execPath, [BIN, ...command.slice(IMAGE_BIN.length)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JOB_COMPLETION_INDEX: String(index) } });
  p.child = child;
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (p.log += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (p.log += s));
  return new Promise((r) => child.on('exit', (code, signal) => r(signal ?? code ?? -1)));
}

/** One pod of an Indexed Job: its init containers one after another, then its container, as the kubelet runs them. */
function pod(job: Manifest, index: number): Pod {
  const p: Pod = { log: '', exit: Promise.resolve(0) };
  p.exit = (async () => {
    for (const c of job.spec.template.spec.initContainers ?? []) {
      const code = await container(p, c.command, index);
      if (code !== 0) return `init ${code}`;
    }
    return container(p, job.spec.template.spec.containers[0]!.command, index);
  })();
  return p;
}

test('k8s: the manifests parse and hold the steps; their pods, run here per index, give the local shards', { timeout: 600_000 }, async (t) => {
  const ref = await reference();
  const out = tmpDir('mmcurate-k8s-');
  const emit = tmpDir('mmcurate-k8s-manifests-');
  assert.equal(await main(['run', DEMO_PIPELINE, '--out', out, '--tasks', String(TASKS), '--executor', 'k8s', '--emit', emit, '--image', 'registry.example/mmcurate:1']), 0);
  const files = (readdirSync(emit, { recursive: true }) as string[]).filter((f) => f.endsWith('.yaml')).sort();
  assert.equal(files[files.length - 1], path.join('queue', 'worker-deployment.yaml'), 'the workers stay out of kubectl apply -f DIR');
  const docs = files.map((f) => parse(readFileSync(path.join(emit, f), 'utf8')) as Manifest);
  assert.equal(docs[0]!.kind, 'PersistentVolumeClaim');
  const claim = docs[0]!.metadata.name;
  const jobs = docs.filter((d) => d.kind === 'Job');
  const deployment = docs.find((d) => d.kind === 'Deployment')!;
  assert.deepEqual(deployment.spec.template.spec.containers[0]!.command.slice(IMAGE_BIN.length, IMAGE_BIN.length + 1), ['worker']);
  const steps = jobs.map((j) => `${j.metadata.labels['mmcurate/stage']}/${j.metadata.labels['mmcurate/step']}`);
  assert.deepEqual(steps.slice(0, 3), ['captions/ingest', 'captions/manifest', 'interleaved/ingest']);
  assert.equal(steps[steps.length - 1], 'mixture/manifest');
  for (const j of jobs) {
    const c = j.spec.template.spec.containers[0]!;
    const parallel = j.spec.completions === TASKS;
    assert.equal(j.spec.completionMode, 'Indexed');
    assert.ok(parallel || j.spec.completions === 1, `${j.metadata.name}: completions ${j.spec.completions}`);
    assert.equal(j.spec.backoffLimitPerIndex, 2);
    assert.equal(j.spec.template.spec.restartPolicy, 'Never');
    assert.equal(c.command[c.command.length - 1], '--wait');
    assert.ok(!c.command.includes('--rank'), 'the rank comes from JOB_COMPLETION_INDEX');
    assert.deepEqual(c.volumeMounts.map((m) => m.mountPath), [out]);
    assert.equal(j.spec.template.spec.volumes[0]!.persistentVolumeClaim.claimName, claim);
    const gpu = c.resources?.limits?.['nvidia.com/gpu'];
    const step = `${j.metadata.labels['mmcurate/stage']}/${j.metadata.labels['mmcurate/step']}`;
    if (step === 'scored/score') assert.equal(gpu, 1);
    if (/ingest|manifest/.test(step)) assert.equal(gpu, undefined, step);
    // every stage after the first waits for the stage before it
    const later = j.metadata.labels['mmcurate/stage'] !== jobs[0]!.metadata.labels['mmcurate/stage'];
    assert.equal(j.spec.template.spec.initContainers?.[0]?.command[IMAGE_BIN.length], later ? 'status' : undefined, step);
  }

  // every Job starts at once on a cluster; here three steps at a time overlap, the later ones waiting
  const pods: Pod[][] = jobs.map(() => []);
  let killed: { step: string; index: number } | undefined;
  const start = (k: number) => {
    const j = jobs[k]!;
    for (let i = 0; i < j.spec.completions!; i++) {
      pods[k]!.push(pod(j, i));
      // two pods for one index (a node lost, its pod started elsewhere while the first still runs)
      if (steps[k] === 'scored/score') pods[k]!.push(pod(j, i));
    }
  };
  try {
    for (let k = 0; k < Math.min(3, jobs.length); k++) start(k);
    for (let k = 0; k < jobs.length; k++) {
      if (steps[k] === 'text/ingest') {
        // kill one pod mid-task (its running marker there, its completion marker not yet), as a lost node
        // would; Kubernetes starts the index again (backoffLimitPerIndex)
        const dir = path.join(out, 'text');
        const tried = new Set<number>();
        for (let n = 0; n < 30000 && !killed && tried.size < pods[k]!.length; n++) {
          for (let i = 0; i < pods[k]!.length && !killed; i++) {
            if (tried.has(i) || !existsSync(runningPath(dir, 'ingest', i)) || existsSync(markerPath(dir, 'ingest', i))) continue;
            tried.add(i);
            pods[k]![i]!.child!.kill('SIGKILL');
            if ((await pods[k]![i]!.exit) !== 'SIGKILL') continue; // it finished first: try another
            killed = { step: steps[k]!, index: i };
            pods[k]![i] = pod(jobs[k]!, i);
          }
          if (!killed) await new Promise((r) => setTimeout(r, 10));
        }
        assert.ok(killed, 'no text/ingest pod was caught mid-task');
      }
      const codes = await Promise.all(pods[k]!.map((p) => p.exit));
      assert.ok(codes.every((c) => c === 0), `${steps[k]}: ${codes.join(',')}\n${pods[k]!.map((p) => p.log).join('\n---\n')}`);
      if (k + 3 < jobs.length) start(k + 3);
    }
  } finally {
    // a failed assertion must not leave pods waiting for steps that will never finish
    for (const p of pods.flat()) if (p.child && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }
  assert.ok(killed);
  t.diagnostic(`k8s: killed ${killed.step} index ${killed.index} mid-task, started again`);
  assert.equal(await main(['status', out]), 0);
  assert.deepEqual(shardHashes(out), shardHashes(ref.out));
  assert.deepEqual(accounting(out), accounting(ref.out, ref.writtenAs));
  assert.deepEqual(leftovers(out), []);
});
