/**
 * The page, rendered from the model alone: one self-contained HTML file (inline CSS, SVG plots, WebP
 * thumbnails as data URIs, no script and no network access). Headings go h1 > h2 > h3 > h4 without gaps;
 * every image's alt text is its caption; the layout reflows from 1280 px down to a phone's width.
 */
import { barsSpec, clusterSizesSpec, funnelSpec, lengthsSpec, mixSpec, rejectsSpec, resetChartIds, scoreSpec, sizesSpec, toSvg } from './charts.js';
import type { DatasetReport, ReportModel, Sample } from './model.js';

const CSS = `
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
header,main{max-width:1240px;margin:0 auto;padding:0 16px}header{padding-top:24px}
h1{font-size:1.6rem;margin:.2em 0}h2{font-size:1.3rem;margin:1.6em 0 .4em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
h3{font-size:1.08rem;margin:1.2em 0 .3em}h4{font-size:.95rem;margin:.9em 0 .3em;color:#57606a}
nav ul{display:flex;flex-wrap:wrap;gap:.4em 1em;list-style:none;padding:0;margin:.5em 0}nav a{color:#0969da}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:4px 16px 16px;margin:16px 0}
.plot{overflow-x:auto;margin:8px 0}.plot svg{max-width:100%;height:auto;display:block}
.row{display:flex;flex-wrap:wrap;gap:16px}.row>div{min-width:0}
.table{overflow-x:auto}table{border-collapse:collapse;font-size:.85rem;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}td code{word-break:break-all}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:10px;list-style:none;padding:0;margin:0}
.grid li{background:#f6f8fa;border:1px solid #eaeef2;border-radius:6px;padding:6px;font-size:.78rem;overflow-wrap:anywhere}
.grid img{display:block;width:100%;height:128px;object-fit:contain;background:#fff;border-radius:4px}
.noimg{height:128px;display:flex;align-items:center;justify-content:center;color:#8c959f;background:#fff;border-radius:4px;text-align:center}
.score{font-variant-numeric:tabular-nums;color:#57606a}.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
.pair{display:flex;gap:12px;align-items:flex-start;border-top:1px solid #eaeef2;padding:8px 0}.pair>.keeper{flex:0 0 150px}.pair .grid{flex:1}
.muted{color:#57606a}.thumb{width:64px;height:64px;object-fit:contain;background:#fff}
@media (max-width:600px){body{font-size:14px}section{padding:2px 10px 12px}.grid{grid-template-columns:repeat(auto-fill,minmax(110px,1fr))}.grid img,.noimg{height:100px}.pair{flex-direction:column}.pair>.keeper{flex:none;width:150px}}
`;

export function esc(s: unknown): string {
  return String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const n = (x: number): string => x.toLocaleString('en-US');
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const score = (x: number | null): string => (x === null ? '' : x.toFixed(4));

async function plot(spec: Parameters<typeof toSvg>[0], title: string): Promise<string> {
  return `<figure class="plot" aria-label="${esc(title)}">${await toSvg(spec, title)}</figure>`;
}

function img(m: ReportModel, key: string | null, caption: string, cls = ''): string {
  const uri = key ? m.thumbs[key] : undefined;
  if (!uri) return `<div class="noimg">no image bytes</div>`;
  return `<img${cls ? ` class="${cls}"` : ''} src="${uri}" alt="${esc(caption || 'image without caption')}" loading="eager">`;
}

function card(m: ReportModel, s: Sample, extra = ''): string {
  return `<li>${img(m, s.thumb, s.caption)}<div>${esc(s.caption)}</div><div class="score">${s.clip_score === null ? '' : `clip ${score(s.clip_score)}`}${extra} · ${esc(s.source)}</div></li>`;
}

function grid(m: ReportModel, list: Sample[]): string {
  return list.length ? `<ul class="grid">${list.map((s) => card(m, s)).join('')}</ul>` : '<p class="muted">none</p>';
}

export async function renderHtml(m: ReportModel): Promise<string> {
  resetChartIds();
  const sections: { id: string; title: string; body: string }[] = [];
  const ds = m.datasets;

  sections.push({ id: 'funnel', title: 'Funnel', body: `<p>Rows in and kept at every step of every stage, in pipeline order.</p>${await plot(funnelSpec(m.funnel), 'Funnel: rows in and kept per stage and step')}${funnelTable(m)}` });

  const withRejects = ds.filter((d) => d.rejects.length);
  if (withRejects.length) {
    let body = `<p>${n(withRejects.reduce((a, d) => a + d.rejected, 0))} rows rejected, by reason; a few seeded examples of each, with the image where the stage's input still holds it.</p>${await plot(rejectsSpec(withRejects), 'Rejected rows by reason and stage')}`;
    for (const d of withRejects) {
      body += `<h3>${esc(d.name)} (${esc(d.stage)})</h3><div class="table"><table><thead><tr><th>reason</th><th class="num">rows</th><th>examples (file, location, detail)</th></tr></thead><tbody>`;
      for (const r of d.rejects) {
        const ex = r.examples
          .map((e) => `<div class="pair">${e.thumb ? img(m, e.thumb, e.caption ?? '', 'thumb') : ''}<div><code>${esc(e.file)}</code> ${esc(e.location)}${e.clip_score !== null ? ` · clip ${score(e.clip_score)}` : ''}<br><span class="muted">${esc(e.detail)}</span>${e.caption ? `<br>“${esc(e.caption)}”` : ''}</div></div>`)
          .join('');
        body += `<tr><td><code>${esc(r.reason)}</code></td><td class="num">${n(r.count)}</td><td>${ex}</td></tr>`;
      }
      body += '</tbody></table></div>';
    }
    sections.push({ id: 'rejects', title: 'Rejects', body });
  }

  const mixes = ds.filter((d) => d.mix);
  if (mixes.length) {
    let body = '';
    for (const d of mixes) {
      const x = d.mix!;
      body += `<h3>${esc(d.name)}: recipe ${esc(x.recipe ?? 'none')}, by ${x.by}</h3>`;
      body += `<p>Audit verdict: <span class="${x.ok ? 'ok' : 'bad'}">${x.ok ? 'PASS' : 'FAIL'}</span> (tolerance ${x.tolerancePP} pp; manifest ${x.manifestOk ? 'agrees with the shards' : 'disagrees with the shards'}; ${n(x.duplicates.ids)} repeated ids, ${n(x.duplicates.expectedFromUpsampling)} expected from upsampling).</p>`;
      if (x.failures.length) body += `<ul>${x.failures.map((f) => `<li class="bad">${esc(f)}</li>`).join('')}</ul>`;
      if (x.warnings.length) body += `<ul>${x.warnings.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>`;
      body += `<h4>Per kind</h4>${await plot(mixSpec(x.kinds, 'kind'), `${d.name}: realized share per kind against the recipe`)}`;
      body += `<h4>Per source</h4>${await plot(mixSpec(x.sources, 'source'), `${d.name}: realized share per source against the recipe`)}`;
      body += `<div class="table"><table><thead><tr><th>kind / source</th><th class="num">${x.by === 'tokens' ? 'tokens' : 'rows'}</th><th class="num">realized</th><th class="num">recipe</th><th>verdict</th></tr></thead><tbody>${[...x.kinds.map((k) => ({ ...k, label: k.name })), ...x.sources.map((s) => ({ ...s, label: `${s.kind} / ${s.name}` }))].map((r) => `<tr><td>${esc(r.label)}</td><td class="num">${n(r.count)}</td><td class="num">${pct(r.share)}</td><td class="num">${r.target === null ? '' : pct(r.target)}</td><td class="${r.ok ? 'ok' : 'bad'}">${r.ok ? 'ok' : 'off'}</td></tr>`).join('')}</tbody></table></div>`;
    }
    sections.push({ id: 'mixture', title: 'Mixture', body });
  }

  const scored = ds.filter((d) => d.scores.length);
  if (scored.length) {
    let body = '<p>Kept rows and rejected ones on one axis (the rejects carry their scores), with the filter threshold or the coreset band that decided.</p>';
    for (const d of scored) {
      body += `<h3>${esc(d.name)} (${esc(d.stage)})</h3>`;
      for (const s of d.scores) {
        const t = s.threshold !== null ? ` (threshold ${s.threshold})` : s.band ? ` (${s.band.label}: ${s.band.lo.toFixed(4)} to ${s.band.hi.toFixed(4)})` : '';
        body += `<h4>${s.column}${esc(t)}</h4>${await plot(scoreSpec(s), `${d.name}: ${s.column} histogram${t}`)}`;
      }
    }
    sections.push({ id: 'scores', title: 'Scores', body });
  }

  const imaged = ds.filter((d) => d.images && (d.images.sizes.length || Object.keys(d.images.formats).length));
  if (imaged.length) {
    let body = '';
    for (const d of imaged) {
      const im = d.images!;
      body += `<h3>${esc(d.name)}</h3><p>${n(im.withBytes)} images with bytes, ${n(im.withoutBytes)} by path or URL only.</p><div class="row">`;
      if (im.sizes.length) body += `<div><h4>Sizes</h4>${await plot(sizesSpec(im.sizes), `${d.name}: image sizes`)}</div>`;
      const formats = Object.entries(im.formats).map(([name, value]) => ({ name, value }));
      if (formats.length) body += `<div><h4>Formats</h4>${await plot(barsSpec(formats, 'images'), `${d.name}: image formats`)}</div>`;
      body += '</div>';
    }
    sections.push({ id: 'images', title: 'Images', body });
  }

  const texts = ds.filter((d) => d.lengths.length);
  if (texts.length) {
    let body = '';
    for (const d of texts) {
      const kinds = Object.entries(d.tokens.byKind).map(([name, t]) => ({ name, value: t.tokens }));
      body += `<h3>${esc(d.name)}</h3><div class="row"><div><h4>Text length</h4>${await plot(lengthsSpec(d.lengths), `${d.name}: characters per sample`)}</div>`;
      body += `<div><h4>Tokens by kind</h4>${await plot(barsSpec(kinds, 'tokens'), `${d.name}: tokens by kind`)}<p class="muted">${esc(d.tokens.method)}, ${d.tokens.visualTokensPerImage} visual tokens per image</p></div></div>`;
    }
    sections.push({ id: 'text', title: 'Text and tokens', body });
  }

  const coresets = ds.filter((d) => d.coreset);
  if (coresets.length) {
    let body = '';
    for (const d of coresets) {
      const c = d.coreset!;
      body += `<h3>${esc(d.name)}: ${c.steps.map((s) => `${esc(s.step)} → ${n(s.out)}`).join(', ')}</h3>`;
      body += `<h4>Cluster sizes (k = ${c.k ?? '?'})</h4>${await plot(clusterSizesSpec(c.sizes), `${d.name}: members per cluster`)}`;
      if (c.note) body += `<p class="muted">${esc(c.note)}</p>`;
      for (const cl of c.clusters) {
        body += `<h4>Cluster ${cl.cluster}: ${n(cl.members)} members, ${n(cl.nearDuplicates)} removed as near-duplicates${c.dedup ? ` (${esc(c.dedup.rule)}, cos ${c.dedup.rule === 'semdedup' ? '≥' : '>'} ${c.dedup.threshold})` : ''}</h4>`;
        for (const g of cl.groups) {
          body += `<div class="pair"><div class="keeper"><ul class="grid">${card(m, g.keeper, ' · kept')}</ul></div><ul class="grid">${g.duplicates.map((x) => card(m, x, x.cosine === null ? '' : ` · cos ${x.cosine.toFixed(3)}`)).join('')}</ul></div>`;
        }
      }
      for (const reason of ['clip_score_band', 'centroid_band', 'not_sampled']) {
        const r = d.rejects.find((x) => x.reason === reason);
        if (!r) continue;
        body += `<h4>Dropped by ${esc(reason)} (${n(r.count)})</h4><ul class="grid">${r.examples.map((e) => `<li>${img(m, e.thumb, e.caption ?? '')}<div>${esc(e.caption ?? '')}</div><div class="score">${e.clip_score === null ? '' : `clip ${score(e.clip_score)}`} · ${esc(e.location)}</div></li>`).join('')}</ul>`;
      }
    }
    sections.push({ id: 'coreset', title: 'Coreset', body });
  }

  const sampled = ds.filter((d) => d.samples && (d.samples.random.length || d.samples.highest.length));
  if (sampled.length) {
    let body = `<p>Seeded (seed ${m.options.seed}): the same rows on every build.</p>`;
    for (const d of sampled) {
      const s = d.samples!;
      body += `<h3>${esc(d.name)}</h3>`;
      if (s.highest.length) body += `<h4>Highest clip_score</h4>${grid(m, s.highest)}<h4>Lowest clip_score</h4>${grid(m, s.lowest)}`;
      body += `<h4>Random</h4>${grid(m, s.random)}`;
    }
    sections.push({ id: 'samples', title: 'Samples', body });
  }

  const total = ds.reduce((a, d) => a + d.rows, 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>mmcurate report: ${esc(m.title)}</title><style>${CSS}</style></head>
<body><header><h1>mmcurate report: ${esc(m.title)}</h1>
<p class="muted">${ds.length} dataset${ds.length === 1 ? '' : 's'} (${ds.map((d) => esc(d.name)).join(', ')}), ${n(total)} rows written, mmcurate ${esc(m.mmcurate)}. Every figure on this page is in <code>mmcurate report ${esc(m.path)} --json</code>.</p>
<nav aria-label="sections"><ul>${sections.map((s) => `<li><a href="#${s.id}">${s.title}</a></li>`).join('')}</ul></nav></header>
<main>${sections.map((s) => `<section id="${s.id}" aria-labelledby="${s.id}-h"><h2 id="${s.id}-h">${s.title}</h2>${s.body}</section>`).join('\n')}</main>
</body></html>
`;
}

function funnelTable(m: ReportModel): string {
  return `<div class="table"><table><thead><tr><th>stage</th><th>step</th><th class="num">in</th><th class="num">kept</th><th class="num">dropped</th></tr></thead><tbody>${m.funnel.map((s) => `<tr><td>${esc(s.dataset)}</td><td>${esc(s.step)}</td><td class="num">${n(s.in)}</td><td class="num">${n(s.out)}</td><td class="num">${n(s.in - s.out)}</td></tr>`).join('')}</tbody></table></div>`;
}

export type { DatasetReport };
