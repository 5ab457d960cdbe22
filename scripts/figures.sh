#!/usr/bin/env bash
# Regenerate the README's figures from the current code: the tour (scripts/demo.sh), its closing
# table into docs/tour.md and six of its pictures into docs/img/tour/. The README's tour table is
# docs/tour.md pasted in; a test (docs.links) checks every picture and link it names exists.
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
