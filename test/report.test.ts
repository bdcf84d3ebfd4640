/**
 * `mmcurate report`: the demo run's page, built by `demo` itself, checked against the manifests (the JSON
 * model's numbers are the data's, the page's numbers are the model's) and opened in headless Chromium
 * (Debian's `chromium`, driven by playwright-core): no console error, no request leaving the file, every
 * section and plot rendered, every image decoded, at 1280 px and at a phone's 390 px.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readManifestOf, ROOT, runMain, tmpDir } from './helpers.js';
import type { ReportModel } from '../src/report/model.js';
import { buildModel } from '../src/report/build.js';
import { withoutThumbs } from '../src/report/command.js';
import { esc } from '../src/report/html.js';

/** The page's script runs in the browser, whose DOM types this Node project does not load. */
declare const document: any;

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SECTIONS = ['funnel', 'rejects', 'mixture', 'scores', 'images', 'text', 'coreset', 'samples'];
let out = '';
let html = '';
let model: Omit<ReportModel, 'thumbs'>;

before(async () => {
  out = path.join(tmpDir('mmcurate-report-'), 'demo');
  const r = await runMain(['demo', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  // the demo ends by naming the page
  assert.match(r.stdout, new RegExp(`report: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/report\\.html`));
  html = readFileSync(path.join(out, 'report.html'), 'utf8');
  // what --json prints
  model = JSON.parse(JSON.stringify(withoutThumbs(await buildModel(out)))) as typeof model;
});

test('report --json: the funnel, rejects and mixture are the manifests\' numbers; the page shows the same; it is self-contained', () => {
  const names = model.datasets.map((d) => d.name);
  assert.deepEqual(names, ['captions', 'interleaved', 'text', 'scored', 'coreset', 'mixture']);
  for (const d of model.datasets) {
    const m = readManifestOf(path.join(out, d.name));
    assert.deepEqual(
      d.steps.map((s) => [s.step, s.in, s.out]),
      m.steps.map((s) => [s.name, s.in, s.out]),
      d.name,
    );
    assert.equal(d.rows, m.rows, `${d.name}: rows`);
    assert.deepEqual(Object.fromEntries(d.rejects.map((r) => [r.reason, r.count])), m.rejected_by_reason, `${d.name}: rejects by reason`);
    for (const r of d.rejects) assert.ok(r.examples.length >= 1 && r.examples.every((e) => e.file && e.location), `${d.name}/${r.reason}: examples with file and location`);
  }
  const scored = model.datasets.find((d) => d.name === 'scored')!;
  const clip = scored.scores.find((s) => s.column === 'clip_score')!;
  assert.equal(clip.threshold, 0.16);
  // kept rows and low_clip_score rejects on one axis: every reject below the threshold, every kept row above it
  assert.ok(clip.values.filter((v) => v.group === 'low_clip_score').every((v) => v.value < 0.16));
  assert.ok(clip.values.filter((v) => v.group === 'kept').every((v) => v.value >= 0.16));
  assert.equal(clip.values.filter((v) => v.group === 'low_clip_score').reduce((a, v) => a + v.count, 0), 6);
  // reject examples of the score stage come with the image from its input
  assert.ok(scored.rejects.find((r) => r.reason === 'low_clip_score')!.examples.every((e) => e.thumb && e.caption));
  const mix = model.datasets.find((d) => d.name === 'mixture')!.mix!;
  assert.equal(mix.ok, true);
  assert.deepEqual(
    mix.kinds.map((k) => [k.name, k.target]),
    [['caption', 0.45], ['interleaved', 0.45], ['text', 0.1]],
  );
  const core = model.datasets.find((d) => d.name === 'coreset')!.coreset!;
  const cm = readManifestOf(path.join(out, 'coreset'));
  assert.equal(core.sizes.reduce((a, s) => a + s.size * s.clusters, 0), cm.read, 'every row is in one cluster');
  assert.ok(core.clusters.length > 0 && core.clusters.every((c) => c.groups.length > 0));
  for (const c of core.clusters) for (const g of c.groups) for (const d of g.duplicates) assert.ok(d.cosine !== null && d.cosine > 0 && d.cosine <= 1 + 1e-6, `cluster ${c.cluster}: cosine ${d.cosine}`);
  const highest = model.datasets.find((d) => d.name === 'scored')!.samples!.highest.map((s) => s.clip_score!);
  assert.deepEqual(highest, [...highest].sort((a, b) => b - a));

  // the page's funnel table holds the model's numbers
  for (const s of model.funnel) assert.ok(html.includes(`<td>${esc(s.dataset)}</td><td>${esc(s.step)}</td><td class="num">${s.in.toLocaleString('en-US')}</td><td class="num">${s.out.toLocaleString('en-US')}</td>`), `${s.dataset} ${s.step}`);
  // nothing to fetch: no external script, style, image or font
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
  assert.doesNotMatch(html, /url\((['"]?)https?:/);
  assert.doesNotMatch(html, /<script/);
  for (const id of SECTIONS) assert.ok(html.includes(`<section id="${id}"`), id);
});

test('report as a pipeline stage: reads the stage it names and writes OUT/<name>/report.html, with no second, default report', async () => {
  const file = path.join(path.dirname(out), 'look.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'look',
      stages: [
        { name: 'captions', stage: 'ingest', with: { kind: 'caption', input: [`captions=${path.join(ROOT, 'demo', 'data', 'captions.jsonl')}`] } },
        { name: 'look', stage: 'report', with: { input: '@captions', samples: 2 } },
      ],
    }),
  );
  const before = readFileSync(path.join(out, 'report.html'));
  const r = await runMain(['run', file, '--out', out, '--from', 'look']);
  assert.equal(r.code, 0, r.stderr);
  const page = readFileSync(path.join(out, 'look', 'report.html'), 'utf8');
  assert.match(page, /<h1>mmcurate report: captions<\/h1>/);
  // samples: 2 reached the stage: two images in the random grid
  assert.equal(page.split('<h4>Random</h4>')[1]!.split('</ul>')[0]!.match(/<li>/g)!.length, 2);
  assert.deepEqual(readFileSync(path.join(out, 'report.html')), before, 'the run-wide report is left alone');
});

const noBrowser = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH); the page was checked without a browser`;

test('the demo report in headless Chromium: no console error or request, every section, plot and image rendered, 1280 px and 390 px', { skip: noBrowser }, async (t) => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const shots = path.join(ROOT, 'test', '.tmp');
  mkdirSync(shots, { recursive: true });
  try {
    for (const width of [1280, 390]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
      // any request but the file itself and its data URIs is a failure: the page must open offline
      await page.route('**/*', (route) => {
        const u = route.request().url();
        if (u.startsWith('file:') || u.startsWith('data:')) return route.continue();
        problems.push(`network request: ${u}`);
        return route.abort();
      });
      await page.goto(`file://${path.join(out, 'report.html')}`, { waitUntil: 'load' });
      const r = await page.evaluate((sections) => {
        const svgs = [...document.querySelectorAll('figure.plot svg')].map((s: any) => {
          const b = s.getBoundingClientRect();
          return { label: s.getAttribute('aria-label') ?? '', w: b.width, h: b.height, marks: s.querySelectorAll('path, rect, line, text').length };
        });
        const imgs = [...document.images].map((i: any) => ({ ok: i.complete && i.naturalWidth > 0, alt: i.alt, shown: i.getBoundingClientRect().width }));
        const levels: number[] = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map((h: any) => Number(h.tagName[1]));
        const missing = sections.filter((id: string) => {
          const s = document.getElementById(id);
          return !s || s.getBoundingClientRect().height < 40 || !s.querySelector('figure.plot svg, img');
        });
        return { svgs, imgs, levels, missing, scrollWidth: document.documentElement.scrollWidth };
      }, SECTIONS);
      assert.deepEqual(problems, [], `${width}px`);
      assert.deepEqual(r.missing, [], `${width}px: sections without a plot or image`);
      assert.ok(r.svgs.length >= 15, `${width}px: ${r.svgs.length} plots`);
      for (const s of r.svgs) assert.ok(s.w > 100 && s.h > 50 && s.marks > 10, `${width}px: plot "${s.label}" is empty (${s.w}x${s.h}, ${s.marks} marks)`);
      assert.ok(r.imgs.length >= 30, `${width}px: ${r.imgs.length} images`);
      for (const i of r.imgs) {
        assert.ok(i.ok, `${width}px: an image did not decode (alt "${i.alt}")`);
        assert.ok(i.alt.length > 0, `${width}px: an image without alt text`);
        assert.ok(i.shown > 0, `${width}px: an image is not shown (alt "${i.alt}")`);
      }
      assert.equal(r.levels[0], 1);
      r.levels.forEach((l, i) => assert.ok(i === 0 || l <= r.levels[i - 1]! + 1, `heading h${l} after h${r.levels[i - 1]}`));
      // the page itself never scrolls sideways (wide plots and tables scroll in their own boxes)
      assert.ok(r.scrollWidth <= width, `${width}px: the page is ${r.scrollWidth}px wide`);
      const shot = path.join(shots, `report-demo-${width}.png`);
      await page.screenshot({ path: shot, fullPage: width === 1280 });
      t.diagnostic(`screenshot: ${shot}`);
      await page.close();
    }
  } finally {
    await browser.close();
  }
});
