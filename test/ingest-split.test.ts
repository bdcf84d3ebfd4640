import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { ParquetWriter, fileWriter } from 'hyparquet-writer';
import { cli, duck, tmpDir } from './helpers.js';

/** Rows and rejects of an ingest output, in a form that does not depend on how the work was cut. */
async function contents(out: string): Promise<{ rows: unknown[]; rejects: unknown[]; manifest: { rows: number; rejected: number; read: number; shards: unknown[]; inputs: { parts: number }[] } }> {
  const rows = await duck(`SELECT * FROM read_parquet('${out}/data/*.parquet') ORDER BY id`);
  const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  const rejects: unknown[] = [];
  for (const f of (manifest.rejects ?? []) as { path: string }[]) {
    for (const line of readFileSync(path.join(out, f.path), 'utf8').split('\n').filter(Boolean)) rejects.push(JSON.parse(line));
  }
  rejects.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  return { rows, rejects, manifest };
}

function ingest(args: string[], out: string): void {
  const r = cli(['ingest', ...args, '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
}

/** The same ingest read whole (`a`) and cut into parts of `partMb` (`b`), on two workers. */
async function wholeAndCut(dir: string, args: string[], partMb: string): Promise<{ a: Awaited<ReturnType<typeof contents>>; b: Awaited<ReturnType<typeof contents>> }> {
  const whole = path.join(dir, 'whole');
  const cut = path.join(dir, 'cut');
  ingest([...args, '--part-mb', '0'], whole);
  ingest([...args, '--part-mb', partMb, '--workers', '2'], cut);
  return { a: await contents(whole), b: await contents(cut) };
}

test('a large JSONL file is cut into parts at line starts; rows, ids, rejects and line numbers equal an uncut read', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'laion.jsonl');
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    if (i % 97 === 5) lines.push('{"url": "https://x/broken"');
    else if (i % 211 === 7) lines.push('');
    else lines.push(JSON.stringify({ url: `https://img.example/${i}.jpg`, caption: i % 401 === 3 ? '' : `a caption with ünïcode ${i}`, similarity: i / 3000 }));
  }
  writeFileSync(file, lines.join('\n') + '\n');
  const { a, b } = await wholeAndCut(dir, ['--kind', 'caption', '--input', file], '0.02');
  assert.equal(a.manifest.inputs[0]!.parts, 1);
  assert.ok(b.manifest.inputs[0]!.parts >= 8, `${b.manifest.inputs[0]!.parts} parts`);
  assert.ok(b.manifest.shards.length >= 8, 'one task per part, each with its shards');
  assert.equal(b.manifest.read, lines.filter((l) => l !== '').length); // blank lines are not records
  assert.deepEqual([b.manifest.rows, b.manifest.rejected], [a.manifest.rows, a.manifest.rejected]);
  assert.deepEqual(b.rows, a.rows);
  assert.deepEqual(b.rejects, a.rejects);
  const lastBroken = lines.lastIndexOf('{"url": "https://x/broken"') + 1;
  assert.ok(lastBroken > 2900);
  assert.ok(b.rejects.some((r) => (r as { location: string }).location === `line ${lastBroken}`), 'the last broken line is named by its number in the whole file');
});

test('a Parquet file is cut at row groups and plain text at lines; gzip is never cut', async () => {
  const dir = tmpDir();
  const pq = path.join(dir, 'meta.parquet');
  const w = new ParquetWriter({
    writer: fileWriter(pq),
    schema: [
      { name: 'root', num_children: 2 },
      { name: 'URL', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'TEXT', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ],
  });
  for (let g = 0; g < 6; g++) {
    const urls = Array.from({ length: 500 }, (_, i) => `https://img.example/${g}/${i}-${'x'.repeat(40)}.jpg`);
    const texts = urls.map((_, i) => (i % 50 === 0 ? null : `caption ${g}-${i} ${'y'.repeat(40)}`));
    w.write({ columnData: [{ name: 'URL', data: urls }, { name: 'TEXT', data: texts }], rowGroupSize: 500 });
  }
  w.finish();
  const txt = path.join(dir, 'corpus.txt');
  writeFileSync(txt, Array.from({ length: 4000 }, (_, i) => (i % 10 === 9 ? '   ' : `document ${i} ${'z'.repeat(30)}`)).join('\n'));
  writeFileSync(path.join(dir, 'corpus2.txt.gz'), gzipSync(readFileSync(txt)));

  for (const [kind, input, minParts, partMb] of [['caption', pq, 3, '0.002'], ['text', txt, 4, '0.03'], ['text', path.join(dir, 'corpus2.txt.gz'), 1, '0.001']] as const) {
    const whole = path.join(dir, `${path.basename(input)}-whole`);
    const cut = path.join(dir, `${path.basename(input)}-cut`);
    ingest(['--kind', kind, '--input', input, '--part-mb', '0'], whole);
    ingest(['--kind', kind, '--input', input, '--part-mb', partMb], cut);
    const a = await contents(whole);
    const b = await contents(cut);
    const parts = b.manifest.inputs[0]!.parts;
    if (minParts === 1) assert.equal(parts, 1, 'a gzip stream cannot be cut');
    else assert.ok(parts >= minParts, `${input}: ${parts} parts`);
    assert.deepEqual(b.rows, a.rows, input);
    assert.deepEqual(b.rejects, a.rejects, input);
    assert.ok(a.manifest.rows > 0 && (kind === 'text' || a.manifest.rejected > 0));
  }
});

test('CSV is cut only where a record ends: quoted fields holding newlines, escaped quotes and CRLF read the same cut or whole', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'pairs.csv');
  const rows = ['url,caption,note'];
  for (let i = 0; i < 3000; i++) {
    const url = `https://img.example/${i}.jpg`;
    // every 7th caption spans lines inside quotes (a cut there would split a record), every 11th has "" escapes,
    // every 13th a bare quote inside an unquoted field (csv-parse's relax_quotes keeps it); every 97th row is
    // short and every 89th long
    let cap = `a caption ${i} ${'w'.repeat(i % 60)}`;
    if (i % 7 === 0) cap = `"first line ${i}\r\nsecond line, with a comma\nthird ${'q'.repeat(i % 50)}"`;
    else if (i % 11 === 0) cap = `"she said ""hi"" to ${i}"`;
    else if (i % 13 === 0) cap = `a 5" tall statue ${i}`;
    rows.push(i % 97 === 5 ? url : i % 89 === 3 ? `${url},${cap},n${i},extra` : `${url},${cap},n${i}`);
  }
  writeFileSync(file, rows.join('\r\n') + '\r\n');
  const { a, b } = await wholeAndCut(dir, ['--kind', 'caption', '--input', file], '0.01');
  assert.ok(b.manifest.inputs[0]!.parts >= 10, `${b.manifest.inputs[0]!.parts} parts`);
  assert.equal(a.manifest.read, 3000);
  assert.deepEqual([b.manifest.read, b.manifest.rows, b.manifest.rejected], [a.manifest.read, a.manifest.rows, a.manifest.rejected]);
  // the short and the long rows, and only those: rows after a bad one are read as usual
  const bad = Array.from({ length: 3000 }, (_, i) => i).filter((i) => i % 97 === 5 || i % 89 === 3).length;
  assert.equal(a.manifest.rejected, bad);
  assert.deepEqual(b.rows, a.rows);
  assert.deepEqual(b.rejects, a.rejects);
  const multi = (a.rows as { text: string }[]).filter((r) => r.text.startsWith('first line'));
  assert.equal(multi.length, Array.from({ length: 3000 }, (_, i) => i).filter((i) => i % 7 === 0 && i % 97 !== 5 && i % 89 !== 3).length);
  // rejects name the line a record starts on: row 5 follows the header and row 0's three lines
  assert.ok(a.rejects.some((r) => (r as { location: string }).location === 'line 9'));
  assert.ok(multi.every((r) => /^first line \d+\r?\nsecond line, with a comma\nthird q*$/.test(r.text)), multi[0]?.text);
  assert.ok((a.rows as { text: string }[]).some((r) => r.text === 'she said "hi" to 11'));
});

test('a TSV without a header row takes --csv-columns, cut or whole (CC3M layout: caption, then url)', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'Train_GCC-training.tsv');
  writeFileSync(file, Array.from({ length: 2000 }, (_, i) => `a caption number ${i} ${'v'.repeat(i % 40)}\thttps://img.example/${i}.jpg`).join('\n') + '\n');
  const { a, b } = await wholeAndCut(dir, ['--kind', 'caption', '--input', file, '--csv-columns', 'caption,url'], '0.01');
  assert.deepEqual([a.manifest.rows, a.manifest.rejected], [2000, 0]);
  assert.ok(b.manifest.inputs[0]!.parts >= 5);
  assert.deepEqual(b.rows, a.rows);
  const first = (a.rows as { text: string; url: string }[]).find((r) => r.url === 'https://img.example/0.jpg');
  assert.equal(first?.text, 'a caption number 0 ');
  // without --csv-columns the first record becomes the header: said on stderr, every row rejected by reason,
  // and a source with nothing kept fails the run
  const noHeader = cli(['ingest', '--kind', 'caption', '--input', file, '--out', path.join(dir, 'no-header')]);
  assert.equal(noHeader.code, 1);
  assert.match(noHeader.stderr, /the header row holds "https:\/\/img\.example\/0\.jpg", which looks like data; .* --csv-columns/);
  assert.match(noHeader.stderr, /error: source "Train_GCC-training": all 1,999 of its records were rejected, every one for the same reason, missing_caption; .*--csv-columns/);
  const bad = cli(['ingest', '--kind', 'caption', '--input', file, '--csv-columns', 'caption,,url', '--out', path.join(dir, 'bad')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--csv-columns/);
});

test('CSV record ends are found the same whatever the chunk boundaries, including a "" split across two chunks', async () => {
  const { CsvRecordEnds } = await import('../src/ingest/csv-records.js');
  const text = Buffer.from('a,b\n"x\ny",1\n"p""\nq",2\nr"s,3\n"",4\n"a""",5\n');
  const ends = (sizes: number): number[] => {
    const s = new CsvRecordEnds(44);
    const out: number[] = [];
    for (let off = 0; off < text.length; off += sizes) s.scan(text.subarray(off, off + sizes), (i, end) => end && out.push(off + i));
    return out;
  };
  const expected = [3, 11, 21, 27, 32, 40];
  for (let size = 1; size <= text.length; size++) assert.deepEqual(ends(size), expected, `chunks of ${size}`);
});

test('CSV records ending in a lone \\r, each followed by a quoted field that holds a newline: cut and whole reads agree', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'mac.csv');
  const parts = ['caption,url\n'];
  for (let i = 0; i < 400; i++) {
    parts.push(`plain ${i},http://x/${i}\r`);
    parts.push(`"quoted\n${i}",http://x/q${i}${i % 3 ? '\n' : '\r\n'}`);
  }
  parts.push('one column only\n');
  writeFileSync(file, parts.join(''));
  const { a, b } = await wholeAndCut(dir, ['--kind', 'caption', '--input', file], '0.002');
  assert.ok(b.manifest.inputs[0]!.parts >= 5, `${b.manifest.inputs[0]!.parts} parts`);
  assert.deepEqual([a.manifest.read, a.manifest.rows, a.manifest.rejected], [801, 800, 1]);
  assert.deepEqual(b.rows, a.rows);
  assert.deepEqual(b.rejects, a.rejects);
  // header line 1; record i on lines 2 + 3i (plain, ended by \r) and 3 + 3i (two lines, quoted)
  assert.equal((a.rejects[0] as { location: string }).location, 'line 1202');
  assert.ok((a.rows as { text: string }[]).every((r) => /^(plain \d+|quoted\n\d+)$/.test(r.text)));
});
