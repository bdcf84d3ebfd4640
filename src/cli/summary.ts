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
