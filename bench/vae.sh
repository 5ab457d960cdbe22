#!/bin/sh
# The pytorch/examples VAE (784-400-20-400-784, ReLU, Bernoulli logits, Adam 1e-3, batch 128) on
# Fashion-MNIST: training images/s, ours vs PyTorch, at 1 and 2 threads each; peak RSS of each
# process; and the GEMM-only bound (the step's eleven matrix products alone) with our share of it.
# The machine may be shared and its load drifts, so the two sides alternate over ROUNDS rounds
# (ours 1 thread, peer 1 thread, ours 2 threads, peer 2 threads, again ...) and every figure is the
# median over the rounds of each process's figure (itself the best of its 3 timing windows).
#   bench/vae.sh [SECONDS_PER_RUN=15]   builds bench_vae in build/ first (LZ_BUILD_DIR: another build
#                                       folder; LZ_BIN: a folder holding a built bench_vae, used as is)
#   ROUNDS=3 bench/vae.sh               alternating rounds (default 3)
# Both sides get OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=N (Debian's torch multiplies
# through the system OpenBLAS too) and the GLIBC_TUNABLES exported below (large buffers stay in the
# heap rather than being mmapped and unmapped per use); each side prints its BLAS library, kernel
# and allocator settings. The peer also runs under glibc's defaults (INFO line); the speed RESULTs
# compare against the peer's better of the two settings.
# Where our step's time goes: INFO vae_time_share_* lines from PROFILE_STEPS (default 100; 0: none)
# steps under the profiler after the timed windows (tensor/profile.hpp), never inside them.
# Ours runs N threads as the engine's own (tensor/parallel.hpp); each round also runs our 2-thread
# step the way it was before them (--thread-mode blas: OpenBLAS's threads), for the INFO line that
# states the before and after in one run. RESULT vae_thread_scaling is our 2-thread over 1-thread.
# RESULT lines follow docs/benchmarks.md: ratio = ours/peer for speed, peer/ours for memory (>1: better).
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
ROUNDS=${ROUNDS:-3}
median() { tr " " "\n" | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
b2=""; o1=""; o2=""; r1=""; r2=""; g1=""; g2=""; p1=""; p2=""; q1=""; q2=""
r=1
while [ "$r" -le "$ROUNDS" ]; do
  for t in 1 2; do
    export OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t
    prof=0; [ "$r" = 1 ] && prof=${PROFILE_STEPS:-100}
    out=$("$BIN/bench_vae" --threads "$t" --seconds "$SECS" --profile-steps "$prof")
    if [ "$r" = 1 ]; then
      echo "$out" | grep "^ours env:"
      echo "$out" | sed -n "s/^ours share threads=$t category=\([a-z]*\) fraction=\([0-9.]*\) ms_per_step=\([0-9.]*\)/INFO vae_time_share_\1_${t}thread ours=\2 (\3 ms per step; profiled run)/p"
    fi
    o=$(echo "$out" | grep "^images_per_s=")
    echo "round $r ours    threads=$t: $o"
    eval "o$t=\"\$o$t $(echo "$o" | field images_per_s)\""
    eval "r$t=\"\$r$t $(echo "$o" | field peak_rss_mb)\""
    eval "g$t=\"\$g$t $(echo "$o" | field gemm_images_per_s)\""
    if [ "$t" = 2 ]; then  # the way before the engine's threads: OpenBLAS's own, one engine thread
      b=$("$BIN/bench_vae" --threads 2 --seconds "$SECS" --thread-mode blas | grep "^images_per_s=")
      echo "round $r ours    threads=2 (OpenBLAS's threads): $b"
      b2="${b2:-} $(echo "$b" | field images_per_s)"
    fi
    if [ "$have_torch" = 1 ]; then
      pout=$($PY "$ROOT/bench/vae_torch.py" "$t" "$SECS")
      [ "$r" = 1 ] && echo "$pout" | grep "^peer env:"
      p=$(echo "$pout" | grep "^images_per_s=")
      echo "round $r pytorch threads=$t: $p"
      eval "p$t=\"\$p$t $(echo "$p" | field images_per_s)\""
      eval "q$t=\"\$q$t $(echo "$p" | field peak_rss_mb)\""
    fi
  done
  r=$((r + 1))
done
best_ours=0; best_peer=0; gemm=0; bt=1
for t in 1 2; do
  export OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t
  eval "ours=\$(echo \"\$o$t\" | median)"; eval "ro=\$(echo \"\$r$t\" | median)"; eval "g=\$(echo \"\$g$t\" | median)"
  if [ "$have_torch" = 1 ]; then
    eval "tuned=\$(echo \"\$p$t\" | median)"; eval "rp=\$(echo \"\$q$t\" | median)"
    d=$(env -u GLIBC_TUNABLES $PY "$ROOT/bench/vae_torch.py" "$t" "$SECS" | grep "^images_per_s=")
    dflt=$(echo "$d" | field images_per_s)
    echo "INFO vae_peer_glibc_defaults_${t}thread peer=$dflt (GLIBC_TUNABLES unset, one run: $d) vs peer=$tuned (GLIBC_TUNABLES as ours, median of $ROUNDS) images/s"
    peer=$(awk -v a="$tuned" -v b="$dflt" 'BEGIN { print (b > a) ? b : a }')
    echo "RESULT vae_train_${t}thread ours=$ours peer=$peer ratio=$(ratio "$ours" "$peer") images/s (medians of $ROUNDS alternating rounds; peer: its better allocator setting)"
    echo "RESULT vae_peak_rss_${t}thread ours=$ro peer=$rp ratio=$(ratio "$rp" "$ro") MB (ratio=peer/ours, lower memory is better; both under GLIBC_TUNABLES)"
    if awk -v a="$peer" -v b="$best_peer" 'BEGIN { exit !(a > b) }'; then best_peer=$peer; fi
  fi
  if awk -v a="$ours" -v b="$best_ours" 'BEGIN { exit !(a > b) }'; then best_ours=$ours; gemm=$g; bt=$t; fi
done
eval "ours1=\$(echo \"\$o1\" | median)"; eval "ours2=\$(echo \"\$o2\" | median)"; blas2=$(echo "$b2" | median)
echo "INFO vae_2thread_before_engine_threads ours=$ours2 before=$blas2 ratio=$(ratio "$ours2" "$blas2") images/s (before: --thread-mode blas, OpenBLAS's 2 threads and one engine thread; medians)"
echo "RESULT vae_thread_scaling ours=$ours2 peer=$ours1 ratio=$(ratio "$ours2" "$ours1") images/s (peer = our own 1-thread figure; goal 1.7)"
echo "GEMM-only bound at $bt thread(s), measured in the same processes between training windows (median): $gemm images/s"
echo "RESULT vae_share_of_gemm_bound ours=$best_ours peer=$gemm ratio=$(ratio "$best_ours" "$gemm") images/s (peer = the GEMMs alone)"
if [ "$have_torch" = 1 ]; then
  echo "RESULT vae_train_vs_best_pytorch ours=$best_ours peer=$best_peer ratio=$(ratio "$best_ours" "$best_peer") images/s"
fi
