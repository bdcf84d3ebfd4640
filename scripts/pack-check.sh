#!/usr/bin/env bash
# The package as a user gets it: `npm pack` (which builds dist/ through prepack), the tarball installed into
# an empty folder with its dependencies from the registry, then `npx mmcurate --version`, `npx mmcurate demo`
# and `import('mmcurate')` run there. Fails when the tarball ships what does not run (tests, benchmarks,
# TypeScript sources, source maps) or grows past the size limits below.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# onnxruntime-node's install script would fetch the CUDA provider from NuGet (outside the npm registry);
# npm 11 skips it by default, older npm reads this variable (the package's documented switch)
export ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL:-skip}

npm pack --pack-destination "$tmp" --json >"$tmp/pack.json"
node --input-type=module - "$tmp/pack.json" <<'JS'
import { readFileSync } from 'node:fs';
const [info] = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const files = info.files.map((f) => f.path);
const bad = files.filter((f) => /^dist\/(test|bench)\/|\.map$|^src\/|^test\/|^bench\/|\.tsbuildinfo$/.test(f));
if (bad.length) throw new Error(`the tarball ships what does not run: ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ` and ${bad.length - 5} more` : ''}; fix "files" in package.json`);
for (const need of ['bin/mmcurate', 'dist/src/cli/main.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'pipelines/demo.json', 'schemas/pipeline.schema.json', 'models/test-clip/config.json', 'LICENSE', 'README.md']) {
  if (!files.includes(need)) throw new Error(`the tarball lacks ${need}`);
}
// limits with room to grow: about 1 MB packed and 4 MB unpacked today
const MB = 2 ** 20;
if (info.size > 4 * MB || info.unpackedSize > 16 * MB) throw new Error(`the tarball is ${(info.size / MB).toFixed(1)} MB (${(info.unpackedSize / MB).toFixed(1)} MB unpacked, ${files.length} files): more than expected; check "files" in package.json`);
console.log(`pack-check: ${info.filename}: ${files.length} files, ${(info.size / MB).toFixed(2)} MB packed, ${(info.unpackedSize / MB).toFixed(2)} MB unpacked`);
JS
tarball="$tmp/$(node -p "JSON.parse(require('fs').readFileSync('$tmp/pack.json','utf8'))[0].filename")"

mkdir "$tmp/app"
cd "$tmp/app"
echo '{"name":"pack-check","version":"1.0.0","private":true,"type":"module"}' >package.json
npm install --no-audit --no-fund --prefer-offline "$tarball" >npm-install.log 2>&1 || { cat npm-install.log; exit 1; }

want=$(node -p "require('$root/package.json').version")
got=$(npx --no-install mmcurate --version)
[ "$got" = "$want" ] || { echo "pack-check: npx mmcurate --version printed '$got', expected '$want'" >&2; exit 1; }
npx --no-install mmcurate demo --out demo-out >demo.log 2>&1 || { cat demo.log; exit 1; }
test -f demo-out/mixture/manifest.json || { cat demo.log; echo "pack-check: the demo wrote no mixture" >&2; exit 1; }

# the library entry, through package.json "exports", and its type declarations
node --input-type=module -e "
const m = await import('mmcurate');
for (const f of ['ingest', 'score', 'coreset', 'mix', 'audit', 'run']) if (typeof m[f] !== 'function') throw new Error('mmcurate exports no function ' + f);
const manifest = await m.ingest({ kind: 'text', input: ['node_modules/mmcurate/demo/data/books.txt'], out: 'api-ingest', quiet: true });
if (!(manifest.rows > 0)) throw new Error('ingest through the library wrote no rows');
console.log('pack-check: import(\"mmcurate\").ingest wrote ' + manifest.rows + ' rows');
"
cat >consumer.ts <<'TS'
import { ingest, type Manifest } from 'mmcurate';
const m: Manifest = await ingest({ kind: 'text', input: ['docs.txt'], out: 'out/text' });
console.log(m.rows);
TS
"$root/node_modules/.bin/tsc" --noEmit --strict --module nodenext --moduleResolution nodenext --target es2022 --skipLibCheck false --types node --typeRoots "$root/node_modules/@types" consumer.ts
echo "pack-check: passed ($(du -sh node_modules | cut -f1) installed)"
