// `mmcurate score` end to end on datasets written by `mmcurate ingest`: columns, rejects with reasons,
// both filters, the clip-retrieval .npy layout, interleaved documents and text embeddings.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ingest } from '../src/ingest/command.js';
import { openDataset, readBatches } from '../src/io/dataset.js';
import { openParquet, readRowGroup } from '../src/io/parquet.js';
import { score } from '../src/score/command.js';
import { unpackFloat16 } from '../src/util/float16.js';
import { readNpy } from '../src/util/npy.js';
import { f16ToF32 } from '../src/util/float16.js';
import { shapeImage } from './score-shapes.js';
import { cli, duck } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mmcurate-score-cmd-'));
const raw = join(tmp, 'raw');
const CAPTIONS = join(tmp, 'captions');

interface Line {
  image: string;
  caption: string;
}

before(async () => {
  mkdirSync(join(raw, 'images'), { recursive: true });
  const lines: Line[] = [];
  const colours = ['red', 'green', 'blue', 'yellow', 'orange', 'purple'];
  const shapes = ['circle', 'square', 'triangle', 'star'];
  for (let k = 0; k < 12; k++) {
    const c = colours[k % 6];
    const s = shapes[k % 4];
    const name = `images/${k}.png`;
    writeFileSync(join(raw, name), await shapeImage(s, c, { size: 96 + 20 * k, transparent: k % 3 === 0 }));
    // Captions 8..11 are mismatched on purpose.
    lines.push({ image: name, caption: k < 8 ? `a ${c} ${s}` : `a photo of a ${colours[(k + 3) % 6]} ${shapes[(k + 1) % 4]}` });
  }
  writeFileSync(join(raw, 'images', 'empty.png'), new Uint8Array(0));
  writeFileSync(join(raw, 'images', 'garbage.jpg'), 'this is not a jpeg');
  const jpeg = await shapeImage('circle', 'red', { format: 'jpeg', size: 300 });
  writeFileSync(join(raw, 'images', 'truncated.jpg'), jpeg.subarray(0, jpeg.length >> 1));
  lines.push({ image: 'images/empty.png', caption: 'an empty file' });
  lines.push({ image: 'images/garbage.jpg', caption: 'not an image' });
  lines.push({ image: 'images/truncated.jpg', caption: 'a red circle, cut short' });
  writeFileSync(join(raw, 'captions.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  await ingest({ kind: 'caption', inputs: [`shapes=${join(raw, 'captions.jsonl')}`], out: CAPTIONS, quiet: true, workers: 1 });
});

after(() => rmSync(tmp, { recursive: true, force: true }));

async function rowsOf(dir: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const b of readBatches(openDataset(dir))) rows.push(...b.rows);
  return rows;
}

function rejectsOf(dir: string): Record<string, unknown>[] {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { rejects: { path: string }[] };
  return m.rejects.flatMap((r) => readFileSync(join(dir, r.path), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)));
}

describe('mmcurate score', () => {
  test('captions: scores, embeddings, bad images rejected with reasons, --min-clip-score, --emit-npy', async () => {
    const ingested = openDataset(CAPTIONS).manifest.rows;
    const out = join(tmp, 'scored');
    const m = await score({ input: CAPTIONS, out, minClipScore: 0.28, emitNpy: true, batch: 4, workers: 1, device: 'cpu', quiet: true });
    assert.equal(m.read, ingested);
    assert.equal(m.rows + m.rejected, m.read);
    assert.equal(m.rows, 8);
    const byReason = m.rejected_by_reason as Record<string, number>;
    assert.equal(byReason.low_clip_score, 4);
    const imageFailures = (byReason.image_empty ?? 0) + (byReason.image_decode_failed ?? 0);
    assert.equal(m.rejected, 4 + imageFailures);
    assert.ok(m.columns.includes('clip_score') && m.columns.includes('image_embedding') && m.columns.includes('text_embedding'));
    assert.equal((m.model as { test_encoder: boolean }).test_encoder, true);
    assert.deepEqual(m.steps.map((s) => s.name), ['score', 'min_clip_score 0.28']);

    const rows = await rowsOf(out);
    const pf = await openParquet(join(out, m.shards[0]!.path));
    const kv = JSON.parse(pf.kv.mmcurate!) as { embedding_dim: number; test_encoder: boolean };
    assert.equal(kv.embedding_dim, 64);
    for (const r of rows) {
      const img = unpackFloat16(r.image_embedding as Uint8Array);
      const txt = unpackFloat16(r.text_embedding as Uint8Array);
      assert.equal(img.length, 64);
      let n = 0;
      let d = 0;
      for (let i = 0; i < 64; i++) {
        n += img[i] * img[i];
        d += img[i] * txt[i];
      }
      assert.ok(Math.abs(n - 1) < 2e-3, 'L2-normalised');
      assert.ok(Math.abs(d - (r.clip_score as number)) < 2e-3, 'clip_score is the cosine');
      assert.ok((r.clip_score as number) >= 0.28);
    }
    const rejects = rejectsOf(out);
    const low = rejects.filter((r) => r.reason === 'low_clip_score');
    assert.equal(low.length, 4);
    assert.ok(low.every((r) => typeof r.clip_score === 'number' && (r.clip_score as number) < 0.28 && typeof r.id === 'string'));

    // clip-retrieval layout: row-aligned with each other and with the shard rows.
    const ie = await readNpy(join(out, 'img_emb', 'img_emb_0.npy'));
    const te = await readNpy(join(out, 'text_emb', 'text_emb_0.npy'));
    assert.deepEqual([ie.header.dtype, ie.header.rows, ie.header.cols], ['float16', rows.length, 64]);
    assert.deepEqual([te.header.rows, te.header.cols], [rows.length, 64]);
    const meta = await openParquet(join(out, 'metadata', 'metadata_0.parquet'));
    const metaRows = await readRowGroup(meta, { start: 0, end: meta.rows });
    assert.deepEqual(metaRows.map((r) => r.id), rows.map((r) => r.id));
    assert.deepEqual(metaRows.map((r) => r.caption), rows.map((r) => r.text));
    const firstImg = f16ToF32((ie.values as Uint16Array).subarray(0, 64));
    assert.deepEqual(Array.from(firstImg), Array.from(unpackFloat16(rows[0]!.image_embedding as Uint8Array)));
    assert.ok(Math.abs((metaRows[0]!.similarity as number) - (rows[0]!.clip_score as number)) < 1e-9);

    // on disk the embeddings are numbers (list<FLOAT16>): DuckDB reads FLOAT[] rows equal to the .npy float16 rows
    const files = m.shards.map((s) => `'${join(out, s.path)}'`).join(', ');
    const d = await duck(`SELECT typeof(image_embedding) t, image_embedding e, len(text_embedding)::INT n FROM read_parquet([${files}])`);
    assert.equal(d.length, rows.length);
    const allImg = f16ToF32(ie.values as Uint16Array);
    d.forEach((r, i) => {
      assert.equal(r.t, 'FLOAT[]');
      assert.equal(r.n, 64);
      assert.deepEqual((r.e as number[]).map(Number), Array.from(allImg.subarray(i * 64, (i + 1) * 64)));
    });

    // A re-run finds the task done and rewrites the same manifest.
    const again = await score({ input: CAPTIONS, out, minClipScore: 0.28, emitNpy: true, batch: 4, workers: 1, device: 'cpu', quiet: true });
    assert.equal(again.rows, m.rows);
  });

  test('--keep-top keeps exactly the top fraction over the whole input, in two passes', async () => {
    const out = join(tmp, 'top');
    const m = await score({ input: CAPTIONS, out, keepTop: 0.25, batch: 8, workers: 0, device: 'cpu', quiet: true, emitNpy: true });
    const scoredRows = m.steps[0]!.out;
    assert.equal(scoredRows, 12);
    assert.equal(m.rows, 3); // ceil(0.25 * 12)
    assert.deepEqual(m.steps.map((s) => s.name), ['score', 'keep_top 0.25']);
    assert.equal(m.rows + m.rejected, m.read);
    const kept = (await rowsOf(out)).map((r) => r.clip_score as number);
    const dropped = rejectsOf(out).filter((r) => r.reason === 'low_clip_score').map((r) => r.clip_score as number);
    assert.equal(dropped.length, 9);
    assert.ok(Math.min(...kept) >= Math.max(...dropped));
    assert.equal(existsSync(join(out, '_staging')), false);
    assert.equal((await readNpy(join(out, 'img_emb', 'img_emb_0.npy'))).header.rows, 3);
  });

  test('--keep-top resumes after a lost filter marker or scores file: re-scores what the filter needs, same shards', async () => {
    // Several input shards, so several score and filter tasks.
    const input = join(tmp, 'captions-multi');
    await ingest({ kind: 'caption', inputs: [`shapes=${join(raw, 'captions.jsonl')}`], out: input, quiet: true, workers: 1, shard: { maxShardRows: 3 } });
    assert.equal(openDataset(input).manifest.shards.length, 4);
    const out = join(tmp, 'top-resume');
    const args = ['score', '--input', input, '--keep-top', '0.5', '--shard-rows', '2', '--batch', '4', '--workers', '1', '--device', 'cpu', '--quiet', '--out', out];
    const shas = () => (JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { shards: { path: string; sha256: string }[] }).shards.map((s) => `${s.path} ${s.sha256}`);
    const rerun = () => {
      const r = cli(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(existsSync(join(out, '_staging')), false, 'staging removed once complete');
      return shas();
    };
    const first = rerun();
    assert.ok(first.length >= 3);
    const marker = (stage: string, rank: number) => join(out, '_tasks', stage, `0000${rank}.done.json`);
    const scoresFile = (rank: number) => join(out, '_tasks', 'score', `0000${rank}.scores.f64`);

    // A filter marker lost after the run: its staged rows are gone with _staging/.
    rmSync(marker('filter', 1));
    assert.deepEqual(rerun(), first);
    // A scores file lost (the global cut reads every task's), together with another filter marker.
    rmSync(scoresFile(2));
    rmSync(marker('filter', 3));
    assert.deepEqual(rerun(), first);
    assert.ok(existsSync(scoresFile(2)) && existsSync(marker('filter', 3)) && existsSync(marker('filter', 1)));

    // A complete output: the re-run is a no-op (no task runs again).
    const stamps = [0, 1, 2, 3].map((r) => [statSync(marker('score', r)).mtimeMs, statSync(marker('filter', r)).mtimeMs]);
    assert.deepEqual(rerun(), first);
    assert.deepEqual([0, 1, 2, 3].map((r) => [statSync(marker('score', r)).mtimeMs, statSync(marker('filter', r)).mtimeMs]), stamps);

    // And the same shards as an uninterrupted run into a fresh folder.
    const fresh = await score({ input, out: join(tmp, 'top-fresh'), keepTop: 0.5, shardRows: 2, batch: 4, workers: 1, device: 'cpu', quiet: true });
    assert.deepEqual(fresh.shards.map((s) => `${s.path} ${s.sha256}`), first);
  });

  test('byte-reproducible: two clean runs, and a run resumed after a lost task, write identical files', async () => {
    // Several tasks of more rows than a model batch, so each task runs several batches, the last one short.
    const input = join(tmp, 'captions-repro');
    await ingest({ kind: 'caption', inputs: [`shapes=${join(raw, 'captions.jsonl')}`], out: input, quiet: true, workers: 1, shard: { maxShardRows: 5 } });
    assert.equal(openDataset(input).manifest.shards.length, 3);
    const run = (out: string) => score({ input, out, emitNpy: true, batch: 3, workers: 1, device: 'cpu', quiet: true });
    const files = (out: string) => {
      const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { shards: { path: string }[] };
      const paths = m.shards.map((s) => s.path);
      for (const d of ['img_emb', 'text_emb', 'metadata']) for (const f of readdirSync(join(out, d))) paths.push(`${d}/${f}`);
      return paths.sort().map((p) => `${p} ${createHash('sha256').update(readFileSync(join(out, p))).digest('hex')}`);
    };
    const a = join(tmp, 'repro-a');
    const b = join(tmp, 'repro-b');
    await run(a);
    await run(b);
    const first = files(a);
    assert.ok(first.filter((f) => f.startsWith('data/')).length >= 3);
    assert.deepEqual(files(b), first);

    // Task 1 lost its marker and its outputs: the re-run scores it again, to the same bytes.
    const lost = first.map((f) => f.split(' ')[0]!).filter((p) => /(part-00001-|_1\.(npy|parquet)$)/.test(p));
    assert.ok(lost.length >= 2, lost.join(', '));
    rmSync(join(b, '_tasks', 'score', '00001.done.json'));
    for (const p of lost) rmSync(join(b, p));
    await run(b);
    assert.deepEqual(files(b), first);
  });

  test('interleaved documents: per-image best neighbour similarity and the mean per document', async () => {
    const il = join(raw, 'docs.jsonl');
    const docs = [
      { texts: ['a red circle', null, 'a blue square'], images: [null, 'images/0.png', null] },
      { texts: [null, 'a photo of a cat'], images: ['images/1.png', null] },
      { texts: ['nothing to see', null], images: [null, 'images/garbage.jpg'] },
      { texts: ['only a remote picture', null], images: [null, 'https://example.com/x.jpg'] },
    ];
    writeFileSync(il, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
    const input = join(tmp, 'il');
    await ingest({ kind: 'interleaved', inputs: [il], out: input, quiet: true, workers: 1 });
    const out = join(tmp, 'il-scored');
    const m = await score({ input, out, batch: 4, workers: 1, device: 'cpu', quiet: true });
    const rows = await rowsOf(out);
    const kept = rows.map((r) => ({ texts: r.texts as (string | null)[], scores: r.image_scores as (number | null)[], doc: r.clip_score as number | null }));
    const first = kept.find((k) => k.texts[0] === 'a red circle')!;
    assert.ok((first.scores[1] as number) > 0.3); // image 0 is a red circle
    assert.equal(first.doc, first.scores[1]);
    const cat = kept.find((k) => k.texts[1] === 'a photo of a cat');
    if (cat) assert.ok((cat.scores[0] as number) < 0.28);
    const remote = kept.find((k) => k.texts[0] === 'only a remote picture');
    if (remote) assert.equal(remote.doc, null);
    assert.equal(m.rows + m.rejected, m.read);
  });

  test('text documents need --embed-text; with it they get text embeddings', async () => {
    const txt = join(raw, 'web.jsonl');
    writeFileSync(txt, ['{"text": "a red circle"}', '{"text": "some web page text"}'].join('\n') + '\n');
    const input = join(tmp, 'tx');
    await ingest({ kind: 'text', inputs: [txt], out: input, quiet: true, workers: 1 });
    await assert.rejects(score({ input, out: join(tmp, 'tx-no'), quiet: true }), /pass --embed-text/);
    const out = join(tmp, 'tx-scored');
    const m = await score({ input, out, embedText: true, emitNpy: true, device: 'cpu', workers: 0, quiet: true });
    assert.equal(m.rows, 2);
    const rows = await rowsOf(out);
    assert.ok(rows.every((r) => (r.text_embedding as Uint8Array).length === 128));
    assert.equal((await readNpy(join(out, 'text_emb', 'text_emb_0.npy'))).header.rows, 2);
    assert.equal(existsSync(join(out, 'img_emb')), false);
  });

  test('usage errors name the flag', async () => {
    await assert.rejects(score({ input: CAPTIONS, out: join(tmp, 'x'), minClipScore: 0.2, keepTop: 0.3 }), /--min-clip-score or --keep-top, not both/);
    await assert.rejects(score({ input: CAPTIONS, out: join(tmp, 'x'), keepTop: 1.5 }), /--keep-top must be a fraction/);
    await assert.rejects(score({ input: CAPTIONS, out: join(tmp, 'x'), model: join(tmp, 'nope') }), /--model .*no such folder/);
  });
});
