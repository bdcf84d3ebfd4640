/**
 * Child process of the mix benchmark: plans, selects and orders a mixture of N index rows (no payload)
 * with the real modules, builds the output-position index the writer uses, and streams the whole order
 * once. Prints one JSON line of timings; the parent reads the peak RSS.
 */
import { planMix } from '../src/mix/plan.js';
import { selectRows } from '../src/mix/select.js';
import { kindStreams, mixOrder } from '../src/mix/order.js';
import { positionIndex } from '../src/mix/write.js';

const total = Number(process.env.MIX_BENCH_ROWS ?? 10_000_000);
const t0 = performance.now();
// Sizes chosen so interleaved (45%) binds the mixture at exactly `total` rows.
const sizes = { a: Math.round(total * 0.3), b: Math.round(total * 0.3), c: Math.round(total * 0.45), d: Math.round(total * 0.2) };
const plan = planMix({
  by: 'samples',
  ratios: new Map([
    ['caption', 45],
    ['interleaved', 45],
    ['text', 10],
  ]),
  sources: [
    { kind: 'caption', name: 'a', available: sizes.a },
    { kind: 'caption', name: 'b', available: sizes.b },
    { kind: 'interleaved', name: 'c', available: sizes.c },
    { kind: 'text', name: 'd', available: sizes.d },
  ],
  onShort: 'shrink',
});
const t1 = performance.now();
const sel = selectRows(
  plan,
  [sizes.a, sizes.b, sizes.c, sizes.d].map((rows) => ({ rows })),
  42,
);
const t2 = performance.now();
const streams = kindStreams(
  ['caption', 'interleaved', 'text'],
  plan.sources.map((s) => s.kind),
  sel,
  42,
);
const t3 = performance.now();
let n = 0;
let check = 0;
for (const c of mixOrder(streams)) {
  n += c.row.length;
  check = (check + c.row[0]!) % 1_000_003;
}
const t4 = performance.now();
const idx = positionIndex(
  sel.map((s) => s.rows.length),
  streams,
);
const t5 = performance.now();
process.stdout.write(
  JSON.stringify({
    rows: n,
    planned: plan.total,
    positions: idx.positions.length,
    check,
    seconds: { plan: (t1 - t0) / 1e3, select: (t2 - t1) / 1e3, shuffle: (t3 - t2) / 1e3, order: (t4 - t3) / 1e3, index: (t5 - t4) / 1e3, total: (t5 - t0) / 1e3 },
  }) + '\n',
);
