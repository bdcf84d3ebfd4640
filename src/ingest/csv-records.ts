/**
 * Where CSV/TSV records end, as csv-parse reads them (quote `"`, relax_quotes): a quote opens a quoted
 * field only at the start of a field; inside one, `""` is a literal quote and a lone `"` closes it; a
 * newline inside a quoted field belongs to the field. A file may be cut only where a record ends.
 */
const QUOTE = 34;
const NL = 10;
const CR = 13;

export class CsvRecordEnds {
  private inQuotes = false;
  /** A quote was the last byte seen inside a quoted field: escaped if the next byte is a quote too. */
  private quotePending = false;
  private fieldStart = true;

  /** `quoting` false: TSV, where a quote is text (see csvOptions in readers/csv.ts). */
  constructor(
    private readonly delimiter: number,
    private readonly quoting = true,
  ) {}

  /** Calls `onNewline(i, endsRecord)` for every newline byte of `chunk`, in order. */
  scan(chunk: Buffer, onNewline: (index: number, endsRecord: boolean) => void): void {
    if (!this.quoting || (!this.inQuotes && !this.quotePending && chunk.indexOf(QUOTE) < 0)) {
      // no quote anywhere (the common case): every newline ends a record
      for (let nl = chunk.indexOf(NL); nl >= 0; nl = chunk.indexOf(NL, nl + 1)) onNewline(nl, true);
      const last = chunk[chunk.length - 1];
      if (chunk.length) this.fieldStart = last === NL || last === this.delimiter || (last === CR && this.fieldStart);
      return;
    }
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.quotePending) {
        this.quotePending = false;
        if (b === QUOTE) continue; // "" inside quotes
        this.inQuotes = false; // the quote closed the field; this byte follows it
        this.fieldStart = false;
      }
      if (this.inQuotes) {
        if (b === QUOTE) this.quotePending = true;
        else if (b === NL) onNewline(i, false);
        continue;
      }
      if (b === NL) {
        onNewline(i, true);
        this.fieldStart = true;
      } else if (b === this.delimiter) this.fieldStart = true;
      else if (b === QUOTE && this.fieldStart) {
        this.inQuotes = true;
        this.fieldStart = false;
      } else if (b !== CR) this.fieldStart = false;
    }
  }
}
