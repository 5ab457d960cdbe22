#!/usr/bin/env bash
# Issue 14's NLL comparison: the flow recipe (8 affine couplings, 2-128-128-4 ReLU nets, no
# ActNorm, Adam 1e-3, batch 256, 39 epochs of 20,000 two-moons points = 3081 steps, noise 0.05)
# trained for seeds 0, 1, 2 by our driver (build/bin/flow) and by PyTorch (bench/flow_torch.py
# --train) on the same points: bench_flow --write-data writes the train/test sets the driver draws,
# and the torch side reads them. Prints each seed's test NLL (nats per point, 5,000 test points)
# and the means. The two sides' N(0, I) test log-likelihoods are compared first: they differ
# unless both sides hold the same test points.
#
#   bench/flow_nll.sh                  builds flow and bench_flow in build/ if needed
#   SEEDS="0 1 2 3 4" bench/flow_nll.sh   other seeds
#   LZ_BUILD_DIR=build-x bench/flow_nll.sh
#
# One thread on each side (OPENBLAS/OMP/MKL_NUM_THREADS=1, torch.set_num_threads(1)), the same
# GLIBC_TUNABLES as bench/flow.sh; results do not depend on them, only the time taken.
set -euo pipefail
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${LZ_BUILD_DIR:-$repo/build}
case $build in /*) ;; *) build=$repo/$build ;; esac
seeds=${SEEDS:-0 1 2}
py=/usr/bin/python3
epochs=39

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
if ! cmake --build "$build" --target flow bench_flow -j2 >"$build/flow_nll_build.log" 2>&1; then
  cat "$build/flow_nll_build.log" >&2
  echo "error: building flow and bench_flow in $build failed (log above)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/bin/bench_flow" --write-data "$work" >/dev/null
peer_ok=1
$py -c 'import torch' 2>/dev/null || { peer_ok=0; echo "peer skipped: python3-torch not installed: our NLLs only"; }
json() { $py -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("%.6f" % v if isinstance(v, float) else v)' "$1" "$2"; }
field() { sed -n "s/.*$1=\([-0-9.e]*\).*/\1/p"; }

echo "flow NLL: affine x8, 2-128-128-4 ReLU, no ActNorm, Adam 1e-3, batch 256, $epochs epochs of 20000 two-moons points (noise 0.05), 5000 test points; seeds: $seeds"
echo "machine: $(nproc --all) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
o_all=() p_all=()
for s in $seeds; do
  "$build/bin/flow" --data two_moons --noise 0.05 --n 20000 --n-test 5000 --couplings 8 --hidden 128,128 \
    --no-actnorm --lr 1e-3 --batch 256 --epochs "$epochs" --seed "$s" --out "$work/ours_$s" >"$work/ours_$s.log" 2>&1 \
    || { cat "$work/ours_$s.log" >&2; echo "error: build/bin/flow failed for seed $s (log above)" >&2; exit 1; }
  o=$(json "$work/ours_$s/summary.json" test_nll)
  ob=$(json "$work/ours_$s/summary.json" base_test_log_likelihood)
  osteps=$(json "$work/ours_$s/summary.json" steps)
  o_all+=("$o")
  if [ $peer_ok = 1 ]; then
    pline=$($py "$repo/bench/flow_torch.py" --data-dir "$work" --train --seed "$s" --epochs "$epochs" --threads 1 | grep "^peer case=")
    p=$(field test_nll <<<"$pline"); pb=$(field base_test_ll <<<"$pline"); psteps=$(field steps <<<"$pline")
    if ! awk -v a="$ob" -v b="$pb" 'BEGIN{d=a-b; exit !(d<1e-4 && d>-1e-4)}'; then
      echo "error: the two sides' N(0,I) test log-likelihoods differ ($ob vs $pb): not the same test points" >&2
      exit 1
    fi
    p_all+=("$p")
    echo "seed $s: ours test_nll=$o ($osteps steps) peer test_nll=$p ($psteps steps) nats (same test points: base N(0,I) ll $ob vs $pb)"
  else
    echo "seed $s: ours test_nll=$o ($osteps steps) nats"
  fi
done
mean() { printf '%s\n' "$@" | awk '{s+=$1} END{printf "%.4f", s/NR}'; }
om=$(mean "${o_all[@]}")
if [ $peer_ok = 1 ]; then
  pm=$(mean "${p_all[@]}")
  awk -v o="$om" -v p="$pm" 'BEGIN{printf "RESULT flow_affine_test_nll_mean ours=%.4f peer=%.4f ratio=%.3f nats (ratio=peer/ours, lower NLL is better; ours-peer=%+.4f, goal |ours-peer| <= 0.05)\n", o, p, p/o, o-p}'
else
  echo "RESULT flow_affine_test_nll_mean ours=$om peer=skipped ratio=n/a nats"
fi
