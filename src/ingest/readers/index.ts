/** The reader registry: one reader per input format. */
import type { Format } from '../detect.js';
import { readArrow } from './arrow.js';
import { csvReader } from './csv.js';
import { readImageFolder } from './imagefolder.js';
import { readJsonl } from './jsonl.js';
import { readParquet } from './parquet.js';
import { textReader } from './text.js';
import type { Reader } from './types.js';
import { readWebDataset } from './webdataset.js';

export function readerFor(format: Format, textSplit: 'line' | 'paragraph' | 'file', csvColumns?: string[]): Reader {
  switch (format) {
    case 'jsonl': return readJsonl;
    case 'csv': return csvReader(',', csvColumns);
    case 'tsv': return csvReader('\t', csvColumns);
    case 'parquet': return readParquet;
    case 'webdataset': return readWebDataset;
    case 'imagefolder': return readImageFolder;
    case 'txt': return textReader(textSplit);
    case 'arrow': return readArrow;
  }
}
