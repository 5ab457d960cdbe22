#!/bin/sh
# The pytorch/examples VAE (784-400-20-400-784, ReLU, Bernoulli logits, Adam 1e-3, batch 128) on
# Fashion-MNIST: training images/s, ours vs PyTorch, at 1 and 2 threads each; peak RSS of each
# process; and the GEMM-only bound (the step's eleven matrix products alone) with our share of it.
# Each figure is the best of 3 timing windows (the least disturbed on a shared machine).
#   bench/vae.sh [SECONDS_PER_RUN=15]   builds bench_vae in build/ first (LZ_BUILD_DIR: another build
#                                       folder; LZ_BIN: a folder holding a built bench_vae, used as is)
# Both sides get OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=N (Debian's torch multiplies
# through the system OpenBLAS too) and the GLIBC_TUNABLES exported below (large buffers stay in the
# heap rather than being mmapped and unmapped per use); each side prints its BLAS library, kernel
# and allocator settings. The peer also runs under glibc's defaults (INFO line); the speed RESULTs
# compare against the peer's better of the two settings.
# Where our step's time goes: INFO vae_time_share_* lines from PROFILE_STEPS (default 100; 0: none)
# steps under the profiler after the timed windows (tensor/profile.hpp), never inside them.
# RESULT lines follow DESIGN.md: ratio = ours/peer for speed, peer/ours for memory (>1: we are better).
set -eu
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824
SECS=${1:-15}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${LZ_BUILD_DIR:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
if [ -z "${LZ_BIN:-}" ]; then
  # Always built (a no-op when up to date): a stale or missing bench_vae would time the wrong code.
  [ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  if ! cmake --build "$BUILD" --target bench_vae -j2 >"$BUILD/bench_vae_build.log" 2>&1; then
    cat "$BUILD/bench_vae_build.log" >&2
    echo "error: building bench_vae in $BUILD failed (log above)" >&2
    exit 1
  fi
fi
BIN=${LZ_BIN:-$BUILD/bin}
if [ ! -x "$BIN/bench_vae" ]; then
  echo "error: $BIN/bench_vae not found (LZ_BIN=$BIN)" >&2
  exit 1
fi
PY=/usr/bin/python3
field() { tr " " "\n" | sed -n "s/^$1=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

have_torch=1
$PY -c 'import torch' 2>/dev/null || { have_torch=0; echo "skipped: PyTorch (python3-torch not installed): no peer figures"; }
best_ours=0; best_peer=0; gemm=0
for t in 1 2; do
  export OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t
  out=$("$BIN/bench_vae" --threads "$t" --seconds "$SECS" --profile-steps "${PROFILE_STEPS:-100}")
  echo "$out" | grep "^ours env:"
  echo "$out" | sed -n "s/^ours share threads=$t category=\([a-z]*\) fraction=\([0-9.]*\) ms_per_step=\([0-9.]*\)/INFO vae_time_share_\1_${t}thread ours=\2 (\3 ms per step; profiled run)/p"
  o=$(echo "$out" | grep "^images_per_s=")
  ours=$(echo "$o" | field images_per_s); ro=$(echo "$o" | field peak_rss_mb); g=$(echo "$o" | field gemm_images_per_s)
  echo "ours    threads=$t: $o"
  if [ "$have_torch" = 1 ]; then
    pout=$($PY "$ROOT/bench/vae_torch.py" "$t" "$SECS")
    echo "$pout" | grep "^peer env:"
    p=$(echo "$pout" | grep "^images_per_s=")
    tuned=$(echo "$p" | field images_per_s); rp=$(echo "$p" | field peak_rss_mb)
    echo "pytorch threads=$t: $p"
    d=$(env -u GLIBC_TUNABLES $PY "$ROOT/bench/vae_torch.py" "$t" "$SECS" | grep "^images_per_s=")
    dflt=$(echo "$d" | field images_per_s)
    echo "INFO vae_peer_glibc_defaults_${t}thread peer=$dflt (GLIBC_TUNABLES unset: $d) vs peer=$tuned (GLIBC_TUNABLES as ours) images/s"
    peer=$(awk -v a="$tuned" -v b="$dflt" 'BEGIN { print (b > a) ? b : a }')
    echo "RESULT vae_train_${t}thread ours=$ours peer=$peer ratio=$(ratio "$ours" "$peer") images/s (peer: its better allocator setting)"
    echo "RESULT vae_peak_rss_${t}thread ours=$ro peer=$rp ratio=$(ratio "$rp" "$ro") MB (ratio=peer/ours, lower memory is better; both under GLIBC_TUNABLES)"
    if awk -v a="$peer" -v b="$best_peer" 'BEGIN { exit !(a > b) }'; then best_peer=$peer; fi
  fi
  if awk -v a="$ours" -v b="$best_ours" 'BEGIN { exit !(a > b) }'; then best_ours=$ours; gemm=$g; bt=$t; fi
done
echo "GEMM-only bound at $bt thread(s), measured in the same process between training windows: $gemm images/s"
echo "RESULT vae_share_of_gemm_bound ours=$best_ours peer=$gemm ratio=$(ratio "$best_ours" "$gemm") images/s (peer = the GEMMs alone)"
if [ "$have_torch" = 1 ]; then
  echo "RESULT vae_train_vs_best_pytorch ours=$best_ours peer=$best_peer ratio=$(ratio "$best_ours" "$best_peer") images/s"
fi
