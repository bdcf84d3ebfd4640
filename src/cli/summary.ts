/** The closing summary every stage prints: per source, read = kept + rejected, and the reasons. */
import type { Manifest } from '../write/manifest.js';

export function summarize(m: Manifest, outDir: string): string {
  const lines: string[] = [];
  lines.push(`${m.stage}: ${m.rows.toLocaleString('en-US')} rows kept, ${m.rejected.toLocaleString('en-US')} rejected, of ${m.read.toLocaleString('en-US')} read -> ${outDir}`);
  const names = Object.keys(m.sources);
  if (names.length) {
    const w = Math.max(6, ...names.map((n) => n.length));
    lines.push(`  ${'source'.padEnd(w)}  ${'read'.padStart(9)}  ${'kept'.padStart(9)}  ${'rejected'.padStart(9)}  reasons`);
    for (const n of names) {
      const s = m.sources[n]!;
      const reasons = Object.entries(s.rejected_by_reason).map(([r, c]) => `${r}=${c}`).join(' ');
      lines.push(`  ${n.padEnd(w)}  ${String(s.read).padStart(9)}  ${String(s.kept).padStart(9)}  ${String(s.rejected).padStart(9)}  ${reasons}`);
    }
  }
  if (m.steps.length > 1) lines.push(`  steps: ${m.steps.map((s) => `${s.name} ${s.out.toLocaleString('en-US')}`).join(' -> ')}`);
  lines.push(`  ${m.shards.length} shard(s), ${(m.shards.reduce((a, s) => a + s.bytes, 0) / 1e6).toFixed(1)} MB; manifest: ${outDir}/manifest.json${m.rejects.length ? `; rejects: ${outDir}/rejects/` : ''}`);
  return lines.join('\n');
}

/**
 * One message per source of which every record was rejected: such a source is almost always a mistake in
 * how the data was pointed at (an image path rule, a column name), not data, and a run that exits 0 with it
 * hides that. `hints` adds a line for a reason (what to look at when every record failed that way).
 */
export function emptySources(m: Manifest, outDir: string, hints: Record<string, string> = {}): string[] {
  const out: string[] = [];
  for (const [name, s] of Object.entries(m.sources)) {
    if (s.kept > 0 || s.rejected === 0) continue;
    const reasons = Object.entries(s.rejected_by_reason).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const what =
      s.rejected === 1
        ? `its only record was rejected, as ${reasons[0]![0]}`
        : `all ${s.rejected.toLocaleString('en-US')} of its records were rejected, ${reasons.length === 1 ? `every one for the same reason, ${reasons[0]![0]}` : `for ${reasons.map(([r, c]) => `${r} (${c})`).join(', ')}`}`;
    const hint = reasons.length === 1 ? hints[reasons[0]![0]] : undefined;
    out.push(`source "${name}": ${what}; nothing of it is in ${outDir}. ${hint ? `${hint}. ` : ''}The rejects under ${outDir}/rejects/ say why, record by record.`);
  }
  return out;
}
