/** The `--compression` choice every stage that writes Parquet offers (the codecs themselves: codecs.ts). */
export const COMPRESSIONS = ['zstd', 'snappy', 'gzip'] as const;
export type Compression = (typeof COMPRESSIONS)[number];
/** Measured on the bench data (docs/benchmarks.md, "Compression"): half GZIP-1's size at about its CPU time. */
export const DEFAULT_COMPRESSION: Compression = 'zstd';

/** The flag, as each command's flags table lists it. */
export const COMPRESSION_FLAG = {
  type: 'string',
  choices: COMPRESSIONS,
  help: `Parquet page codec: ${COMPRESSIONS.join(' | ')} (default ${DEFAULT_COMPRESSION}; image bytes are stored as they are)`,
} as const;
