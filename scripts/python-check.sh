#!/usr/bin/env bash
# The Python side, checked for real: runs the demo pipeline, exports its mixture and coreset (WebDataset and
# LLaVA), then reads every stage's output with Hugging Face `datasets`, pyarrow and Polars, and the exports
# with `webdataset` (when installable) and `tarfile` (scripts/check_hf_datasets.py says what is checked).
# The Python packages go to a virtual environment kept between runs (MMCURATE_PY_VENV, default under TMPDIR).
# Where they cannot be installed (no python3, no venv module, no package index), this says so and exits 0;
# a check that fails exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${MMCURATE_PY_VENV:-${TMPDIR:-/tmp}/mmcurate-python-check}
PACKAGES="datasets polars pyarrow pillow numpy"
skip() {
  echo "python-check: skipped: $1" >&2
  exit 0
}
command -v python3 >/dev/null || skip "no python3 on this machine"
if ! "$VENV/bin/python" -c 'import datasets, polars, pyarrow, PIL, numpy' 2>/dev/null; then
  python3 -m venv "$VENV" >/dev/null 2>&1 || skip "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --retries 0 --timeout 15 $PACKAGES >"$VENV/install.log" 2>&1 ||
    skip "the wheels of $PACKAGES cannot be installed here (no package index?); see $VENV/install.log"
  # optional: without it the tars are read with tarfile alone
  "$VENV/bin/pip" install --quiet --retries 0 --timeout 15 webdataset >>"$VENV/install.log" 2>&1 ||
    echo "python-check: the webdataset package cannot be installed here; the tars are read with tarfile only" >&2
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
D="$OUT/demo"
node bin/mmcurate demo --out "$D" >"$OUT/demo.log" 2>&1 || { cat "$OUT/demo.log" >&2; echo "python-check: the demo pipeline failed" >&2; exit 1; }
node bin/mmcurate export "$D/mixture" --format webdataset --samples-per-shard 4 --tasks 2 --out "$D/export-mixture-webdataset" --quiet >/dev/null
node bin/mmcurate export "$D/coreset" --format webdataset --out "$D/export-coreset-webdataset" --quiet >/dev/null
node bin/mmcurate export "$D/mixture" --format llava --out "$D/export-mixture-llava" --quiet >/dev/null
HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_DATASETS_DISABLE_PROGRESS_BARS=1 "$VENV/bin/python" scripts/check_hf_datasets.py "$D"/*/
