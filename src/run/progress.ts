/**
 * Progress on long work: a bar with rate and ETA when stderr is a terminal, a plain line every few seconds
 * otherwise (logs, CI). Units are whatever the caller counts: records, bytes, images.
 */
export class Progress {
  private done = 0;
  private records = 0;
  private readonly start = Date.now();
  private last = Date.now();
  private readonly tty = !!process.stderr.isTTY && process.env.CI !== 'true';
  private readonly interval: number;

  constructor(
    private readonly label: string,
    private readonly total = 0,
    private readonly unit = 'records',
    private readonly quiet = false,
  ) {
    this.interval = this.tty ? 100 : 10_000;
  }

  /** `units` toward the total (bytes, say), `records` for the rate line. */
  tick(units: number, records = units): void {
    this.done += units;
    this.records += records;
    const now = Date.now();
    if (!this.quiet && now - this.last >= this.interval) {
      this.last = now;
      this.draw(now);
    }
  }

  finish(): void {
    if (this.quiet) return;
    if (this.tty) process.stderr.write('\r\x1b[K');
    const secs = (Date.now() - this.start) / 1000;
    process.stderr.write(`${this.label}: ${this.records.toLocaleString('en-US')} ${this.recordUnit()} in ${secs.toFixed(1)}s (${fmtRate(this.records / Math.max(secs, 1e-3))}/s)\n`);
  }

  private recordUnit(): string {
    return this.unit === 'bytes' ? 'records' : this.unit;
  }

  private draw(now: number): void {
    const secs = Math.max((now - this.start) / 1000, 1e-3);
    const rate = this.records / secs;
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const eta = frac > 0 ? (secs / frac) * (1 - frac) : NaN;
    const tail = `${this.records.toLocaleString('en-US')} ${this.recordUnit()}, ${fmtRate(rate)}/s${Number.isFinite(eta) ? `, ETA ${fmtSecs(eta)}` : ''}`;
    if (this.tty) {
      const width = 30;
      const filled = Math.round(frac * width);
      const bar = this.total > 0 ? `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ` : '';
      process.stderr.write(`\r\x1b[K${this.label} ${bar}${tail}`);
    } else {
      process.stderr.write(`${this.label}: ${this.total > 0 ? `${(frac * 100).toFixed(1)}%, ` : ''}${tail}\n`);
    }
  }
}

function fmtRate(r: number): string {
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)}M` : r >= 1e4 ? `${(r / 1e3).toFixed(1)}K` : r.toFixed(r < 10 ? 1 : 0);
}

function fmtSecs(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}
