/** The audit report as a terminal table (the JSON form is the report object itself). */
import type { AuditReport, RatioRow } from './report.js';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (x: number | null): string => (x === null ? '—' : `${(x * 100).toFixed(2)}%`);
const pp = (x: number | null): string => (x === null ? '' : `${x >= 0 ? '+' : ''}${x.toFixed(2)}`);
const num = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : '—');

function table(title: string, rows: RatioRow[], unit: string, withKind: boolean): string[] {
  if (!rows.length) return [];
  const w = Math.max(title.length, ...rows.map((r) => r.name.length));
  const kw = withKind ? Math.max(4, ...rows.map((r) => r.kind.length)) : 0;
  const head = `  ${title.padEnd(w)}  ${withKind ? `${'kind'.padEnd(kw)}  ` : ''}${unit.padStart(12)}  ${'share'.padStart(8)}  ${'target'.padStart(8)}  ${'dev pp'.padStart(7)}  check`;
  const lines = [head];
  for (const r of rows) {
    const check = r.target === null ? '' : r.ok ? 'ok' : 'FAIL';
    lines.push(`  ${r.name.padEnd(w)}  ${withKind ? `${r.kind.padEnd(kw)}  ` : ''}${int(r.count).padStart(12)}  ${pct(r.share).padStart(8)}  ${pct(r.target).padStart(8)}  ${pp(r.deviationPP).padStart(7)}  ${check}`);
  }
  return lines;
}

export function formatReport(r: AuditReport): string {
  const out: string[] = [];
  out.push(`audit ${r.dir}: ${r.ok ? 'PASS' : `FAIL (${r.failures.length} problem${r.failures.length === 1 ? '' : 's'})`}`);
  for (const w of r.warnings) out.push(`  warning: ${w}`);
  out.push(`  ${int(r.rows)} rows in ${r.shards} shard(s); ${int(r.tokens.total)} tokens (text: ${r.tokens.method}; ${r.tokens.visualTokensPerImage} per image)`);
  const floor = r.by === 'tokens' ? 'one document' : 'one sample';
  out.push(
    r.recipe
      ? `  recipe ${r.recipe.name}${r.recipe.file ? ` (${r.recipe.file})` : ''}, by ${r.by}; passes within ${r.tolerancePP} pp or ${floor}`
      : `  no recipe (give --recipe, or audit a mixture whose manifest records one): ratios are reported, not checked`,
  );
  out.push('');
  out.push(...table('kind', r.kinds, r.by === 'tokens' ? 'tokens' : 'rows', false));
  out.push('');
  out.push(...table('source', r.sources, r.by === 'tokens' ? 'tokens' : 'rows', true));
  out.push('');
  if (r.largestDeviation) out.push(`  largest deviation: ${r.largestDeviation.name} ${pp(r.largestDeviation.pp)} pp`);
  const d = r.duplicates;
  out.push(`  duplicates: ${int(d.ids)} repeated id(s), ${int(d.content)} repeated content (texts + image bytes)${d.expectedFromUpsampling ? `; ${int(d.expectedFromUpsampling)} expected from upsampling` : ''}`);
  const rejects = Object.entries(r.rejectsByReason);
  out.push(`  rejects: ${rejects.length ? rejects.map(([k, n]) => `${k}=${n}`).join(' ') : 'none in rejects/'}`);
  if (r.imagesWithoutBytes) out.push(`  images referenced by path or URL only: ${int(r.imagesWithoutBytes)}`);
  for (const [name, s] of Object.entries(r.scores)) {
    out.push(`  ${name}: n=${int(s.count)}${s.nulls ? ` (+${int(s.nulls)} null)` : ''} min ${num(s.min)} p05 ${num(s.p05)} p25 ${num(s.p25)} p50 ${num(s.p50)} p75 ${num(s.p75)} p95 ${num(s.p95)} max ${num(s.max)} mean ${num(s.mean)}`);
  }
  out.push(
    r.manifest.ok
      ? `  manifest: agrees with the shards (files, bytes, rows${r.manifest.sha256Checked ? ', sha256' : ''})`
      : `  manifest: DISAGREES with the shards`,
  );
  if (r.failures.length) {
    out.push('');
    out.push('  problems:');
    for (const f of r.failures) out.push(`    - ${f}`);
  }
  return out.map((l) => l.trimEnd()).join('\n') + '\n';
}
