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

  /** A `\r` ended the previous chunk: whether it was a line break depends on this chunk's first byte. */
  private crPending = false;

  /**
   * Calls `onBreak(i, cutHere)` for every line break of `chunk`, in order: each `\n`, and each lone `\r`
   * (old Mac line ends; the CSV reader counts them as lines too). `cutHere` is true for a `\n` that ends a
   * record, the only place a file is cut; a lone `\r` that ends a record resets the field state but is
   * never a cut (i is -1 for a `\r` that ended the previous chunk).
   */
  scan(chunk: Buffer, onBreak: (index: number, cutHere: boolean) => void): void {
    if (!chunk.length) return;
    if (this.crPending) {
      this.crPending = false;
      if (chunk[0] !== NL) onBreak(-1, false);
    }
    const loneCr = (i: number): void => {
      if (i + 1 < chunk.length) {
        if (chunk[i + 1] !== NL) onBreak(i, false);
      } else this.crPending = true;
    };
    if (!this.quoting || (!this.inQuotes && !this.quotePending && chunk.indexOf(QUOTE) < 0)) {
      // no quote anywhere (the common case): every newline ends a record
      let nl = chunk.indexOf(NL);
      let cr = chunk.indexOf(CR);
      while (nl >= 0 || cr >= 0) {
        if (cr < 0 || (nl >= 0 && nl < cr)) {
          onBreak(nl, true);
          nl = chunk.indexOf(NL, nl + 1);
        } else {
          loneCr(cr);
          cr = chunk.indexOf(CR, cr + 1);
        }
      }
      const last = chunk[chunk.length - 1];
      this.fieldStart = last === NL || last === CR || last === this.delimiter;
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
        else if (b === NL) onBreak(i, false);
        else if (b === CR) loneCr(i);
        continue;
      }
      if (b === NL) {
        onBreak(i, true);
        this.fieldStart = true;
      } else if (b === CR) {
        // ends the record whether a \n follows or not
        loneCr(i);
        this.fieldStart = true;
      } else if (b === this.delimiter) this.fieldStart = true;
      else if (b === QUOTE && this.fieldStart) {
        this.inQuotes = true;
        this.fieldStart = false;
      } else this.fieldStart = false;
    }
  }
}
