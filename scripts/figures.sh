#!/usr/bin/env bash
# Regenerate the README's figures from the current code: the tour (scripts/demo.sh), its closing
# table into docs/tour.md and six of its pictures into docs/img/tour/; then the action-chunk
# contrast over three seeds (scripts/action_table.py) into docs/cvae.md's marked table and its
# picture into docs/img/cvae-action-chunks.png. The README's tour table is docs/tour.md pasted in;
# a test (docs.links) checks every picture and link it names exists.
#   scripts/figures.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$SECONDS
./scripts/demo.sh 2>&1 | tee "$log"
wall=$((SECONDS - start))
out=runs/demo
img=docs/img/tour
mkdir -p "$img"
cp "$out/vae-2d/manifold.png" "$img/vae-manifold.png"
cp "$out/vae-2d/naive.png" "$img/vae-naive.png"
cp "$out/gmm/clusters.png" "$img/gmm-clusters.png"
cp "$out/flow/density.png" "$img/flow-density.png"
cp "$out/mdn/density.png" "$img/mdn-density.png"
cp "$out/actions/trajectories.png" "$img/action-chunks.png"
{
  echo "# The tour's results"
  echo
  echo "Made by \`scripts/figures.sh\` (which runs \`./scripts/demo.sh\`) on $(date -u +%Y-%m-%d), $(nproc) cores,"
  echo "commit $(git rev-parse --short HEAD); the whole tour took ${wall} s, setup and build included."
  echo
  cat "$out/table.md"
} > docs/tour.md
echo "figures: wrote docs/tour.md and $img/ (tour ${wall} s)"

# The action chunks, three seeds, one and two obstacles (about 90 s once built).
table=$(mktemp)
./scripts/action_table.py --out "$table"
python3 - "$table" <<'PY'
import os, sys
table = open(sys.argv[1]).read()
path = "docs/cvae.md"
s = open(path).read()
begin, end = "<!-- action_table: written by scripts/figures.sh -->\n", "<!-- end action_table -->"
a, b = s.index(begin) + len(begin), s.index(end)
open(path + ".tmp", "w").write(s[:a] + table + s[b:])
os.replace(path + ".tmp", path)
PY
rm -f "$table"
cp runs/actions-s1-o1/trajectories.png docs/img/cvae-action-chunks.png
echo "figures: wrote docs/cvae.md's action-chunk table and docs/img/cvae-action-chunks.png"
