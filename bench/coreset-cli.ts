/** Child process of bench/coreset.ts (c): `mmcurate coreset` with the given arguments, in its own process (peak RSS). */
import { run } from '../src/coreset/command.js';

// Under bench/util.ts's timeNode the script path is not in argv; run directly, it is.
process.exitCode = await run(process.argv.slice(process.argv[1]?.endsWith('.js') ? 2 : 1));
