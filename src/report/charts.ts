/**
 * The report's plots: Vega-Lite specifications compiled by `vega-lite` and rendered to SVG by `vega`'s
 * headless View (no canvas, no DOM, no browser), so the page carries finished SVG and needs no script.
 * Each chart takes the model's numbers as its data; nothing is computed here that the JSON does not hold.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ClusterView, Counted, DatasetReport, FunnelStep, MixSection, ScoreSection } from './model.js';

const WIDTH = 560;
const KEPT = '#2f6feb';
const CONFIG = {
  font: 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'bottom', columns: 3, labelLimit: 220 },
  view: { stroke: null },
  // one description on the <svg> (its title) instead of an aria-label per bar: a third of the bytes
  aria: false,
  background: 'white',
};

let charts = 0;

/** Renders a spec to an SVG string whose ids are unique within the page (several SVGs share one document). */
export async function toSvg(spec: TopLevelSpec, title: string): Promise<string> {
  const full = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', config: CONFIG, ...spec } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(full).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const p = `c${++charts}-`;
    return svg
      .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${p}${id}"`)
      .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${p}${id})`)
      .replace(/<svg /, `<svg role="img" aria-label="${escapeAttr(title)}" `);
  } finally {
    view.finalize();
  }
}

export function resetChartIds(): void {
  charts = 0;
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** Rows in, kept and out per stage and step, in pipeline order. */
export function funnelSpec(steps: FunnelStep[]): TopLevelSpec {
  const values = steps.map((s, i) => ({ order: i, label: `${s.dataset} · ${s.step}`, in: s.in, out: s.out, text: `${s.out.toLocaleString('en-US')} of ${s.in.toLocaleString('en-US')}` }));
  const y = { field: 'label', type: 'nominal', sort: values.map((v) => v.label), title: null };
  return {
    width: WIDTH - 200,
    height: { step: 22 },
    data: { values },
    layer: [
      { mark: { type: 'bar', color: '#d0d7de' }, encoding: { y, x: { field: 'in', type: 'quantitative', title: 'rows (grey: in, blue: kept)' } } },
      { mark: { type: 'bar', color: KEPT }, encoding: { y, x: { field: 'out', type: 'quantitative' } } },
      { mark: { type: 'text', align: 'left', dx: 4, fontSize: 11 }, encoding: { y, x: { field: 'in', type: 'quantitative' }, text: { field: 'text' } } },
    ],
  } as TopLevelSpec;
}

/** Rejected rows by reason and stage. */
export function rejectsSpec(datasets: DatasetReport[]): TopLevelSpec {
  const values = datasets.flatMap((d) => d.rejects.map((r) => ({ dataset: d.name, reason: r.reason, count: r.count })));
  return {
    width: WIDTH - 200,
    height: { step: 20 },
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'reason', type: 'nominal', sort: '-x', title: null },
      x: { field: 'count', type: 'quantitative', aggregate: 'sum', title: 'rows rejected' },
      color: { field: 'dataset', type: 'nominal', title: 'stage' },
      tooltip: [{ field: 'dataset' }, { field: 'reason' }, { field: 'count' }],
    },
  } as TopLevelSpec;
}

/** A score's histogram, kept rows and each reject reason stacked, the threshold or band drawn on it. */
export function scoreSpec(s: ScoreSection): TopLevelSpec {
  const layers: unknown[] = [
    {
      data: { values: s.values },
      mark: 'bar',
      encoding: {
        x: { field: 'value', type: 'quantitative', bin: { maxbins: 40 }, title: s.column },
        y: { field: 'count', type: 'quantitative', aggregate: 'sum', title: 'rows' },
        color: { field: 'group', type: 'nominal', title: 'fate', scale: { domain: groups(s.values), range: palette(groups(s.values)) } },
      },
    },
  ];
  if (s.band) {
    layers.unshift({ data: { values: [{ lo: s.band.lo, hi: s.band.hi, label: s.band.label }] }, mark: { type: 'rect', color: '#f0b400', opacity: 0.18 }, encoding: { x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } } });
    layers.push({ data: { values: [{ lo: s.band.lo, label: `${s.band.label}` }] }, mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 3, fontSize: 11, color: '#8a6100' }, encoding: { x: { field: 'lo', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } } });
  }
  if (s.threshold !== null) {
    layers.push({ data: { values: [{ t: s.threshold, label: `threshold ${s.threshold}` }] }, mark: { type: 'rule', color: '#cf222e', strokeWidth: 2 }, encoding: { x: { field: 't', type: 'quantitative' } } });
    layers.push({ data: { values: [{ t: s.threshold, label: `threshold ${s.threshold}` }] }, mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 3, fontSize: 11, color: '#cf222e' }, encoding: { x: { field: 't', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } } });
  }
  return { width: WIDTH, height: 180, layer: layers } as TopLevelSpec;
}

function groups(values: Counted[]): string[] {
  const g = [...new Set(values.map((v) => v.group))].sort();
  return g.includes('kept') ? ['kept', ...g.filter((x) => x !== 'kept')] : g;
}

const OTHERS = ['#e16f24', '#8250df', '#bf3989', '#1a7f37', '#9a6700', '#57606a', '#0550ae', '#cf222e'];
function palette(g: string[]): string[] {
  let i = 0;
  return g.map((x) => (x === 'kept' ? KEPT : OTHERS[i++ % OTHERS.length]!));
}

/** Realized shares against the recipe's, the target marked as a tick. */
export function mixSpec(rows: MixSection['kinds'] | MixSection['sources'], what: string): TopLevelSpec {
  const values = rows.map((r) => ({ name: r.name, share: r.share, target: r.target, verdict: r.ok ? 'within tolerance' : 'off target' }));
  const y = { field: 'name', type: 'nominal', sort: values.map((v) => v.name), title: what };
  return {
    width: WIDTH - 160,
    height: { step: 24 },
    data: { values },
    layer: [
      { mark: 'bar', encoding: { y, x: { field: 'share', type: 'quantitative', axis: { format: '%' }, title: 'share of the mixture (bar: realized, black tick: recipe)' }, color: { field: 'verdict', type: 'nominal', title: null, scale: { domain: ['within tolerance', 'off target'], range: ['#1a7f37', '#cf222e'] } } } },
      { mark: { type: 'tick', color: 'black', thickness: 3, size: 20 }, transform: [{ filter: 'datum.target != null' }], encoding: { y, x: { field: 'target', type: 'quantitative' } } },
      { mark: { type: 'text', align: 'left', dx: 6, fontSize: 11 }, encoding: { y, x: { field: 'share', type: 'quantitative' }, text: { field: 'share', type: 'quantitative', format: '.1%' } } },
    ],
  } as TopLevelSpec;
}

export function sizesSpec(sizes: { width: number; height: number; count: number }[]): TopLevelSpec {
  return {
    width: 300,
    height: 240,
    data: { values: sizes },
    mark: 'rect',
    encoding: {
      x: { field: 'width', type: 'quantitative', bin: { maxbins: 24 }, title: 'width (px)' },
      y: { field: 'height', type: 'quantitative', bin: { maxbins: 24 }, title: 'height (px)' },
      color: { field: 'count', type: 'quantitative', aggregate: 'sum', title: 'images', scale: { scheme: 'blues' } },
    },
  } as TopLevelSpec;
}

export function barsSpec(values: { name: string; value: number }[], title: string): TopLevelSpec {
  const y = { field: 'name', type: 'nominal', sort: [...values].sort((a, b) => b.value - a.value || a.name.localeCompare(b.name)).map((v) => v.name), title: null };
  return {
    width: 240,
    height: { step: 22 },
    data: { values },
    layer: [
      { mark: { type: 'bar', color: KEPT }, encoding: { y, x: { field: 'value', type: 'quantitative', title } } },
      { mark: { type: 'text', align: 'left', dx: 4, fontSize: 11 }, encoding: { y, x: { field: 'value', type: 'quantitative' }, text: { field: 'value', type: 'quantitative', format: ',' } } },
    ],
  } as TopLevelSpec;
}

export function lengthsSpec(values: Counted[]): TopLevelSpec {
  return {
    width: WIDTH,
    height: 160,
    data: { values },
    mark: 'bar',
    encoding: {
      x: { field: 'value', type: 'quantitative', bin: { maxbins: 40 }, title: 'characters per sample' },
      y: { field: 'count', type: 'quantitative', aggregate: 'sum', title: 'samples' },
      color: { field: 'group', type: 'nominal', title: 'kind' },
    },
  } as TopLevelSpec;
}

export function clusterSizesSpec(sizes: { size: number; clusters: number }[]): TopLevelSpec {
  return {
    width: WIDTH,
    height: 160,
    data: { values: sizes },
    mark: { type: 'bar', color: KEPT },
    encoding: {
      x: { field: 'size', type: 'quantitative', bin: { maxbins: 30 }, title: 'members per cluster (before dedup)' },
      y: { field: 'clusters', type: 'quantitative', aggregate: 'sum', title: 'clusters' },
    },
  } as TopLevelSpec;
}

export type { ClusterView };
