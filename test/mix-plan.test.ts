import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../src/errors.js';
import type { Kind } from '../src/records.js';
import { apportion, planMix, type PlanSource } from '../src/mix/plan.js';
import { repeatNotes, selectRows } from '../src/mix/select.js';
import { kindSequence, kindStreams, mixOrder } from '../src/mix/order.js';
import { parseInput, parseRatios } from '../src/mix/ratios.js';
import { Rng } from '../src/mix/random.js';

const MM1 = new Map<Kind, number>([
  ['caption', 45],
  ['interleaved', 45],
  ['text', 10],
]);

function kindTotals(plan: ReturnType<typeof planMix>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of plan.sources) out[s.kind] = (out[s.kind] ?? 0) + s.target;
  return out;
}

function usage(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof UsageError && re.test(e.message), `expected ${re}`);
}

test('apportion: integers within one of the exact quota, summing to the total', () => {
  for (const [total, w] of [
    [1001, [45, 45, 10]],
    [7, [1, 1, 1]],
    [100, [0.333, 0.333, 0.334]],
    [3, [5, 0, 5]],
  ] as [number, number[]][]) {
    const out = apportion(total, w);
    assert.equal(
      out.reduce((a, n) => a + n, 0),
      total,
    );
    const sum = w.reduce((a, x) => a + x, 0);
    out.forEach((n, i) => assert.ok(Math.abs(n - (total * w[i]!) / sum) < 1, `${n} vs ${(total * w[i]!) / sum}`));
  }
});

test('by samples, shrink: the largest mixture at the exact ratios, each kind within one sample', () => {
  const sources: PlanSource[] = [
    { kind: 'caption', name: 'coco', available: 500 },
    { kind: 'caption', name: 'cc3m', available: 1500 },
    { kind: 'interleaved', name: 'obelics', available: 900 },
    { kind: 'text', name: 'web', available: 5000 },
  ];
  const plan = planMix({ by: 'samples', ratios: MM1, sources, onShort: 'shrink' });
  assert.equal(plan.total, 2000, 'obelics (900 = 45%) bounds the mixture');
  assert.equal(plan.limitedBy, 'obelics');
  const k = kindTotals(plan);
  assert.deepEqual(k, { caption: 900, interleaved: 900, text: 200 });
  // Pooled: coco and cc3m contribute in proportion to their size.
  assert.deepEqual(
    plan.sources.map((s) => s.target),
    [225, 675, 900, 200],
  );
  for (const s of plan.sources) assert.ok(s.target <= s.available);
  // An odd total still lands each kind within one sample of ratio × total.
  const odd = planMix({ by: 'samples', ratios: MM1, sources, total: 1001, onShort: 'shrink' });
  assert.equal(odd.total, 1001);
  for (const pk of odd.kinds) assert.ok(Math.abs(kindTotals(odd)[pk.kind]! - pk.ratio * 1001) <= 1);
});

test('weights inside a kind set the sources\' shares (COCO : CC3M = 1 : 3)', () => {
  const plan = planMix({
    by: 'samples',
    ratios: new Map<Kind, number>([['caption', 1]]),
    sources: [
      { kind: 'caption', name: 'coco', available: 1000, weight: 1 },
      { kind: 'caption', name: 'cc3m', available: 1000, weight: 3 },
    ],
    onShort: 'shrink',
  });
  assert.equal(plan.limitedBy, 'cc3m');
  assert.deepEqual(
    plan.sources.map((s) => s.target),
    [333, 1000],
  );
});

test('shortage policies: shrink notes it, upsample records epochs, error names the short source', () => {
  const sources: PlanSource[] = [
    { kind: 'caption', name: 'coco', available: 100 },
    { kind: 'text', name: 'web', available: 1000 },
  ];
  const ratios = new Map<Kind, number>([
    ['caption', 50],
    ['text', 50],
  ]);
  const shrunk = planMix({ by: 'samples', ratios, sources, total: 1000, onShort: 'shrink' });
  assert.equal(shrunk.total, 200);
  assert.match(shrunk.notes.join(' '), /shrunk from 1,000 to 200 samples: source "coco" holds 100/);
  const up = planMix({ by: 'samples', ratios, sources, total: 1000, onShort: 'upsample' });
  assert.equal(up.total, 1000);
  assert.equal(up.sources[0]!.target, 500);
  assert.equal(up.sources[0]!.epochs, 5);
  assert.deepEqual(
    up.sources.map((s) => s.repeat),
    [true, false],
    'only the short source may repeat',
  );
  // Without a total, upsample uses every row at least once.
  assert.equal(planMix({ by: 'samples', ratios, sources, onShort: 'upsample' }).total, 2000);
  usage(() => planMix({ by: 'samples', ratios, sources, total: 1000, onShort: 'error' }), /source "coco" \(caption\) is short: it holds 100 samples, the mixture needs 500 of a total of 1,000; lower --total \(at most 200 fits\)/);
  // Upsampled selection: every row used 5 times, each epoch a fresh permutation.
  const sel = selectRows(up, [{ rows: 100 }, { rows: 1000 }], 1);
  const uses = new Uint32Array(100);
  for (const r of sel[0]!.rows) uses[r]!++;
  assert.ok(uses.every((n) => n === 5));
  assert.notDeepEqual([...sel[0]!.rows.subarray(0, 100)], [...sel[0]!.rows.subarray(100, 200)]);
  assert.equal(sel[0]!.epochs, 5);
  // The repeat note gives the selection's epochs, the figure the manifest records.
  assert.deepEqual(repeatNotes(up, [{ rows: 100 }, { rows: 1000 }], sel), ['source "coco" repeated: 5 epochs (500 rows of 100)']);
});

test('by tokens, upsample: only a short source repeats; a sibling that has enough stops at its last row', () => {
  // caption is short (1,000 tokens for a 5,050 budget); text is not: books (12 rows of 10 tokens, planned
  // 50.5) and web (40 rows of 300, planned 4,999.5). web stops 199.5 below its budget and its next row (300)
  // never fits what is left of the kind, so the top-up draws books: all 12 of its rows, and no more.
  const data = [
    { rows: 10, tokens: new Uint32Array(10).fill(100) },
    { rows: 12, tokens: new Uint32Array(12).fill(10) },
    { rows: 40, tokens: new Uint32Array(40).fill(300) },
  ];
  const plan = planMix({
    by: 'tokens',
    ratios: new Map<Kind, number>([
      ['caption', 1],
      ['text', 1],
    ]),
    sources: [
      { kind: 'caption', name: 'coco', available: 1000 },
      { kind: 'text', name: 'books', available: 120, weight: 1 },
      { kind: 'text', name: 'web', available: 12000, weight: 99 },
    ],
    total: 10100,
    onShort: 'upsample',
  });
  assert.deepEqual(
    plan.sources.map((s) => s.repeat),
    [true, false, false],
  );
  const sel = selectRows(plan, data, 4);
  const [coco, books, web] = sel as [(typeof sel)[0], (typeof sel)[0], (typeof sel)[0]];
  assert.equal(coco.rows.length, 50, 'the short source is repeated to its budget');
  assert.equal(coco.epochs, 5);
  assert.equal(books.rows.length, 12, `books: ${books.rows.length} rows of 12`);
  assert.equal(new Set(books.rows).size, 12);
  assert.equal(books.epochs, 1);
  assert.equal(new Set(web.rows).size, web.rows.length, 'web never repeats');
  assert.equal(web.rows.length, 16);
  // The kind still ends within one document (300) of its budget.
  const text = books.units + web.units;
  assert.ok(text <= 5050 && 5050 - text < 300, `text ${text} tokens`);
  assert.deepEqual(repeatNotes(plan, data, sel), ['source "coco" repeated: 5 epochs (50 rows of 10; 5,000 of 1,000 tokens)']);
});

test('epochs are rounded once, to 3 decimals, the same in the selection and the notes', () => {
  const ratios = new Map<Kind, number>([['caption', 1]]);
  const plan = planMix({ by: 'samples', ratios, sources: [{ kind: 'caption', name: 'c', available: 3 }], total: 10, onShort: 'upsample' });
  const sel = selectRows(plan, [{ rows: 3 }], 1);
  assert.equal(sel[0]!.epochs, 3.333);
  assert.deepEqual(repeatNotes(plan, [{ rows: 3 }], sel), ['source "c" repeated: 3.333 epochs (10 rows of 3)']);
});

test('by tokens: each kind within one document of its token budget, with shrink and upsample', () => {
  const rng = new Rng(9, 'tokens');
  const tok = (n: number, max: number): Uint32Array => Uint32Array.from({ length: n }, () => 1 + rng.below(max));
  const data = [{ rows: 400, tokens: tok(400, 300) }, { rows: 300, tokens: tok(300, 900) }, { rows: 2000, tokens: tok(2000, 50) }];
  const sum = (a: Uint32Array): number => a.reduce((x, y) => x + y, 0);
  const sources: PlanSource[] = [
    { kind: 'caption', name: 'coco', available: sum(data[0]!.tokens) },
    { kind: 'interleaved', name: 'obelics', available: sum(data[1]!.tokens) },
    { kind: 'text', name: 'web', available: sum(data[2]!.tokens) },
  ];
  for (const [onShort, total] of [
    ['shrink', undefined],
    ['upsample', 400_000],
  ] as const) {
    const plan = planMix({ by: 'tokens', ratios: MM1, sources, onShort, ...(total ? { total } : {}) });
    const sel = selectRows(plan, data, 3);
    plan.kinds.forEach((k, ki) => {
      const got = sel[ki]!.units;
      const maxDoc = Math.max(...data[ki]!.tokens);
      assert.ok(got <= k.target + 1e-9 && k.target - got < maxDoc, `${onShort} ${k.kind}: ${got} tokens vs budget ${k.target} (max doc ${maxDoc})`);
      let check = 0;
      for (const r of sel[ki]!.rows) check += data[ki]!.tokens[r]!;
      assert.equal(check, got);
    });
    if (onShort === 'shrink') for (const s of sel) assert.equal(new Set(s.rows).size, s.rows.length, 'shrink never repeats a row');
    else assert.ok(sel[1]!.epochs > 1);
  }
});

test('the order: every window of 1,000 holds each kind within 2 points of its ratio; kinds shuffled by the seed', () => {
  const plan = planMix({
    by: 'samples',
    ratios: MM1,
    sources: [
      { kind: 'caption', name: 'a', available: 3000 },
      { kind: 'caption', name: 'b', available: 3000 },
      { kind: 'interleaved', name: 'c', available: 4500 },
      { kind: 'text', name: 'd', available: 1000 },
    ],
    onShort: 'shrink',
  });
  assert.equal(plan.total, 10000);
  const order = (seed: number): { kind: number[]; source: number[]; row: number[] } => {
    const sel = selectRows(plan, [{ rows: 3000 }, { rows: 3000 }, { rows: 4500 }, { rows: 1000 }], seed);
    const streams = kindStreams(
      ['caption', 'interleaved', 'text'],
      plan.sources.map((s) => s.kind),
      sel,
      seed,
    );
    const out = { kind: [] as number[], source: [] as number[], row: [] as number[] };
    for (const c of mixOrder(streams, 777)) {
      out.kind.push(...c.kind);
      out.source.push(...c.source);
      out.row.push(...c.row);
    }
    return out;
  };
  const a = order(1);
  assert.equal(a.kind.length, 10000);
  const ratio = [0.45, 0.45, 0.1];
  const prefix = [0, 1, 2].map((k) => {
    const p = new Int32Array(a.kind.length + 1);
    a.kind.forEach((x, i) => (p[i + 1] = p[i]! + (x === k ? 1 : 0)));
    return p;
  });
  let worst = 0;
  for (let s = 0; s + 1000 <= a.kind.length; s++) {
    for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs((prefix[k]![s + 1000]! - prefix[k]![s]!) / 1000 - ratio[k]!));
  }
  assert.ok(worst <= 0.02, `worst window deviation ${(worst * 100).toFixed(2)} pp`);
  // Sources are mixed inside a kind (not one after the other).
  const firstCaptions = a.source.filter((_, i) => a.kind[i] === 0).slice(0, 200);
  assert.ok(firstCaptions.includes(0) && firstCaptions.includes(1));
  assert.deepEqual(order(1), a, 'same seed, same order');
  const b = order(2);
  assert.deepEqual(b.kind, a.kind, 'the kind pattern is fixed by the counts');
  assert.notDeepEqual(b.row, a.row, 'another seed, another order');
});

test('kindSequence keeps every prefix within one sample of its share, for uneven ratios too', () => {
  for (const counts of [
    [1, 999],
    [333, 333, 334],
    [5, 5, 1],
    [7, 0, 3],
  ]) {
    const total = counts.reduce((a, n) => a + n, 0);
    const seen = counts.map(() => 0);
    let t = 0;
    for (const chunk of kindSequence(counts, 100)) {
      for (const k of chunk) {
        seen[k]!++;
        t++;
        counts.forEach((n, j) => assert.ok(Math.abs(seen[j]! - (t * n) / total) < 1, `${counts}: kind ${j} at ${t}`));
      }
    }
    assert.deepEqual(seen, counts);
  }
});

test('bad ratios and inputs are refused, naming the value', () => {
  usage(() => parseRatios('caption45'), /--ratio "caption45": "caption45" is not KIND=NUMBER; expected e.g. caption=45,interleaved=45,text=10/);
  usage(() => parseRatios('caption=abc'), /--ratio caption=abc: expected a number >= 0, got "abc"/);
  usage(() => parseRatios('caption=-5,text=1'), /--ratio caption=-5: expected a number >= 0, got -5/);
  usage(() => parseRatios('caption=0,text=0'), /every ratio is 0/);
  usage(() => parseRatios('captions=1'), /unknown kind "captions"; expected one of caption, interleaved, text/);
  usage(() => parseRatios('text=1,text=2'), /kind text is given twice/);
  usage(() => parseRatios(''), /--ratio: empty/);
  assert.deepEqual([...parseRatios('text=10, caption=45,interleaved=45').keys()], ['caption', 'interleaved', 'text']);
  assert.deepEqual(parseInput('caption=out/coco:2'), { kind: 'caption', dir: 'out/coco', weight: 2, spec: 'caption=out/coco:2' });
  assert.deepEqual(parseInput('text=/data/web').dir, '/data/web');
  usage(() => parseInput('out/coco'), /--input out\/coco: expected KIND=DIR\[:weight\]/);
  usage(() => parseInput('video=out/x'), /unknown kind "video"/);
  usage(() => parseInput('caption=out/coco:0'), /expected a weight > 0, got 0/);
  const one: PlanSource[] = [{ kind: 'caption', name: 'coco', available: 10 }];
  usage(() => planMix({ by: 'samples', ratios: MM1, sources: one, onShort: 'shrink' }), /kind interleaved has a ratio of 45 but no input; add --input interleaved=DIR, or set its ratio to 0/);
  usage(
    () => planMix({ by: 'samples', ratios: new Map<Kind, number>([['text', 1]]), sources: [...one, { kind: 'text', name: 'w', available: 5 }], onShort: 'shrink' }),
    /source "coco" is of kind caption, which the ratios do not mention \(text\)/,
  );
  usage(() => planMix({ by: 'samples', ratios: new Map<Kind, number>([['caption', 1]]), sources: [{ kind: 'caption', name: 'x', available: 0 }], onShort: 'shrink' }), /kind caption has a ratio but its sources \(x\) hold no rows/);
  usage(() => planMix({ by: 'samples', ratios: new Map<Kind, number>([['caption', 1]]), sources: one, total: 2.5, onShort: 'shrink' }), /--total: expected a whole number >= 1, got 2.5/);
  // A kind at ratio 0 is simply left out.
  const zero = planMix({ by: 'samples', ratios: new Map<Kind, number>([['caption', 1], ['text', 0]]), sources: [...one, { kind: 'text', name: 'w', available: 5 }], onShort: 'shrink' });
  assert.equal(zero.sources[1]!.target, 0);
});
