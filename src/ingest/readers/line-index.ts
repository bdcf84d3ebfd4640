/**
 * Line numbers for byte offsets of a stream that is read once, front to back: the stream's chunks are
 * kept until the cursor has passed them, so memory holds what the parser holds, not the file.
 */
const NL = 10;
const CR = 13;

export class LineIndex {
  private readonly chunks: Buffer[] = [];
  /** Stream offset of chunks[0]. */
  private base = 0;
  /** The cursor: a stream offset and the line it is on. */
  private pos = 0;
  private line: number;

  constructor(firstLine = 1) {
    this.line = firstLine;
  }

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  /**
   * The line a record starting at `offset` is on. Blank lines there are skipped: a parser that skips
   * empty lines counts them into the next record's span. Offsets must not decrease.
   */
  recordLine(offset: number): number {
    this.advance(offset);
    for (;;) {
      const b = this.byteAt(this.pos);
      if (b === NL) this.step(1);
      else if (b === CR && this.byteAt(this.pos + 1) === NL) this.step(2);
      else return this.line;
    }
  }

  private step(n: number): void {
    this.pos += n;
    this.line++;
  }

  private byteAt(offset: number): number | undefined {
    let at = offset - this.base;
    for (const c of this.chunks) {
      if (at < c.length) return c[at];
      at -= c.length;
    }
    return undefined;
  }

  private advance(to: number): void {
    while (this.pos < to && this.chunks.length) {
      const c = this.chunks[0]!;
      const from = this.pos - this.base;
      const end = Math.min(c.length, to - this.base);
      for (let nl = c.indexOf(NL, from); nl >= 0 && nl < end; nl = c.indexOf(NL, nl + 1)) this.line++;
      this.pos = this.base + end;
      if (end === c.length) {
        this.chunks.shift();
        this.base += c.length;
      }
    }
  }
}
