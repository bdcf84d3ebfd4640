/**
 * Line numbers for byte offsets of a stream that is read once, front to back: the stream's chunks are
 * kept until the cursor has passed them, so memory holds what the parser holds, not the file. A line ends
 * at `\n`, `\r\n` or a lone `\r` (old Mac files), as the CSV parser's records do.
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
  /** Bytes added so far. */
  received = 0;
  private last = -1;
  private crChunk?: Buffer;
  private crAt = Infinity;

  constructor(firstLine = 1) {
    this.line = firstLine;
  }

  add(chunk: Buffer): void {
    if (!chunk.length) return;
    this.chunks.push(chunk);
    this.received += chunk.length;
    this.last = chunk[chunk.length - 1]!;
  }

  /** Whether the bytes so far end with a line break (a record cut short by a damaged stream does not). */
  endsWithNewline(): boolean {
    return this.last === NL || this.last === CR;
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
      else if (b === CR) this.step(this.byteAt(this.pos + 1) === NL ? 2 : 1);
      else return this.line;
    }
  }

  private step(n: number): void {
    this.advance(this.pos + n);
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
      // a lone `\r` is a break too (`\r\n` was counted at its `\n`); the next `\r` of the chunk is remembered,
      // so a file without any is scanned for them once, not once per record
      if (this.crChunk !== c || this.crAt < from) {
        this.crChunk = c;
        this.crAt = c.indexOf(CR, from);
        if (this.crAt < 0) this.crAt = Infinity;
      }
      while (this.crAt < end) {
        if (this.byteAt(this.base + this.crAt + 1) !== NL) this.line++;
        const next = c.indexOf(CR, this.crAt + 1);
        this.crAt = next < 0 ? Infinity : next;
      }
      this.pos = this.base + end;
      if (end === c.length) {
        this.chunks.shift();
        this.base += c.length;
      }
    }
  }
}
