#!/usr/bin/env bash
# Set everything up (packages, data), build, and run the demo: a short tour of the zoo.
# Every step writes a run folder under runs/demo/ (config.json, metrics.jsonl, summary.json, PNGs,
# index.html); the end writes runs/demo/index.html, one page linking them all.
#   scripts/demo.sh            the tour (about two minutes once built); ends with one table of results
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/setup.sh"
cd "$repo"
bin="$repo/build/bin"
out="$repo/runs/demo"
rm -rf "$out"  # each tour replaces the last (a run folder refuses a second run)
mkdir -p "$out"
step() { printf '\n=== %s ===\n' "$*"; }

step "1/8 the engine: an MLP classifier on the MNIST digits (784-256-10, Adam, 3 epochs)"
"$bin/classify" --data digits --epochs 3 --out "$out/classify"

step "2/8 a Gaussian mixture on 8 Gaussians: EM for K = 1..10, chosen by BIC, beside gradient ascent"
"$bin/gmm" --toy eight_gaussians --n 4000 --k 1:10 --n-init 3 --method both --out "$out/gmm"

step "3/8 a VAE with a 2-D latent space on the digits (the latent manifold as a picture)"
"$bin/vae" --data digits --binarize dynamic --arch 256 --latent 2 --act relu --epochs 30 \
  --eval-k 500 --eval-n 200 --naive-n 20 --out "$out/vae-2d"

step "4/8 VAE vs IWAE (k = 5), 784-200-200-50, same budget, test log p(x) with 1000 importance samples"
for k in 1 5; do
  "$bin/vae" --data digits --binarize dynamic --arch 200,200 --latent 50 --act tanh --k $k --epochs 5 \
    --eval-k 1000 --eval-n 300 --naive-n 0 --out "$out/iwae-k$k"
done

step "5/8 a RealNVP flow on two moons: exact log-likelihood, the learned density as a picture"
"$bin/flow" --data two_moons --epochs 10 --out "$out/flow"

step "6/8 why latents: a mixture-density network (M = 5) against unimodal Gaussian regression on Bishop's inverted sine"
"$bin/mdn" --out "$out/mdn"

step "7/8 a CVAE completes digits from one observed quadrant, against a deterministic baseline"
"$bin/cvae" --data digits --condition quadrants --quadrants 1 --epochs 10 --out "$out/cvae"

step "8/8 why latents, on action chunks: past an obstacle left or right; unimodal regression, MDN and CVAE"
"$bin/cvae" --condition actions --n-train 5000 --epochs 10 --out "$out/actions"

step "done in $SECONDS s (setup and build included)"
/usr/bin/python3 "$repo/scripts/tour_table.py" "$out"
echo "pictures and metrics are in $out:"
find "$out" -name '*.png' | sort
echo "open $out/index.html: the table, each run's page (its summary, curves, pictures and config)"
