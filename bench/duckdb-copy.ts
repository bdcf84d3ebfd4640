/** The DuckDB peer: copies the given input to Parquet (snappy unless a codec is given) and exits; run in its own process for its RSS. */
import { DuckDBInstance } from '@duckdb/node-api';

// run through timeNode's `node -e` wrapper, where the arguments start at argv[1]
const [reader, out, codec = 'snappy'] = process.argv.slice(1);
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
await c.run(`COPY (SELECT * FROM ${reader}) TO '${out}' (FORMAT parquet, COMPRESSION ${codec})`);
c.closeSync();
