#!/usr/bin/env bash
# Flow benchmark (issue 14): training steps per second of the flow recipe, ours (bench/flow.cpp:
# models/flow's Flow::build, nn/optim's Adam, the trainer's step) vs PyTorch (bench/flow_torch.py,
# the same architecture written out from the formulas), at 1 and 2 threads each: 8 RealNVP affine
# couplings with alternating masks, each net a 2-128-128-4 ReLU MLP, tanh-bounded log-scale with a
# learned scale, and the same depth of rational-quadratic spline couplings (K = 8 on [-3, 3], nets
# 2-128-128-23; the peer's spline is the cross-check's, tests/python/torch_flow_check.py),
# Adam 1e-3, batch 256, float32, on two moons (noise 0.05, 20,000 points: the
# points bench_flow writes, read by both sides). Also prints where our step's time goes.
#
#   bench/flow.sh                       builds bench_flow in build/ if needed
#   LZ_BUILD_DIR=build-x bench/flow.sh  another build folder
#   BENCH_SECONDS=4 bench/flow.sh       longer timing per setting (default 2 s)
#   BENCH_ROUNDS=5 bench/flow.sh        more alternating ours/peer rounds (default 3)
#   BENCH_CASES="affine" bench/flow.sh  the couplings to time (default "affine spline"; bench_flow --case, flow_torch.py CASES)
#   PROFILE_STEPS=300 bench/flow.sh     steps of the profiled run after each timed run (0: none)
#
# Each side runs in its own process per thread count with OPENBLAS_NUM_THREADS, OMP_NUM_THREADS
# and MKL_NUM_THREADS (and, for PyTorch, torch.set_num_threads) set to that count: both link the
# same OpenBLAS. Fair by construction: every process runs under the GLIBC_TUNABLES exported below,
# and each side prints its BLAS library, kernel and allocator settings. The peer also runs once per
# thread count under glibc's defaults (INFO line); every RESULT compares against the peer's better
# of the two settings. The time shares come from a profiled run of PROFILE_STEPS steps after each
# timed run (tensor/profile.hpp), so profiling never enters a steps/s figure; medians over rounds.
# Our N threads are the engine's own (tensor/parallel.hpp: products and large kernels split, OpenBLAS
# single-threaded inside). Each round also times our 2-thread step the way it ran before them
# (--thread-mode blas: OpenBLAS's 2 threads, one engine thread), for an INFO line with the before
# and after from one run; RESULT *_thread_scaling is our 2-thread figure over our 1-thread one.
set -euo pipefail
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824
threads_env() { echo "OPENBLAS_NUM_THREADS=$1 OMP_NUM_THREADS=$1 MKL_NUM_THREADS=$1"; }
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${LZ_BUILD_DIR:-$repo/build}
case $build in /*) ;; *) build=$repo/$build ;; esac
seconds=${BENCH_SECONDS:-2}
rounds=${BENCH_ROUNDS:-3}
cases=${BENCH_CASES:-affine spline}
profile_steps=${PROFILE_STEPS:-300}
py=/usr/bin/python3

# Always built (a no-op when up to date): a stale bench_flow would time the wrong code.
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
if ! cmake --build "$build" --target bench_flow -j2 >"$build/bench_flow_build.log" 2>&1; then
  cat "$build/bench_flow_build.log" >&2
  echo "error: building bench_flow in $build failed (log above)" >&2
  exit 1
fi
bin=$build/bin/bench_flow
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
"$bin" --write-data "$data" >/dev/null

echo "flow bench: ${cases} couplings x8, 2-128-128 ReLU nets, Adam 1e-3, batch 256, float32, two moons 0.05; ${seconds}s per setting (median of 5 blocks), median of ${rounds} alternating rounds"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
categories="gemm kernels graph alloc optimizer other"
peer_ok=1
$py -c 'import torch' 2>/dev/null || peer_ok=0
for c in $cases; do
  declare -A o_runs=() p_runs=() f_runs=() m_runs=() ps_runs=()
  b_runs=""
  # Other processes may share the cores and their load drifts, so the two sides alternate
  # (ours, peer, ours, peer, ...) and each figure is the median of its rounds.
  for r in $(seq 1 "$rounds"); do
    for t in 1 2; do
      out=$(env $(threads_env "$t") "$bin" --case "$c" --threads "$t" --seconds "$seconds" --profile-steps "$profile_steps")
      [ "$r" = 1 ] && grep "^ours env:" <<<"$out"
      line=$(grep "^ours case=$c threads=" <<<"$out" | head -1)
      echo "round $r: $line"
      o_runs[$t]+="$(field steps_per_s <<<"$line") "
      for k in $categories; do
        s=$(grep "^ours share threads=$t category=$k " <<<"$out" || true)
        f_runs[$t.$k]+="$(field fraction <<<"$s") "
        m_runs[$t.$k]+="$(field ms_per_step <<<"$s") "
      done
      ps_runs[$t]+="$( (grep "^ours profiled threads=$t " <<<"$out" || true) | field step_ms) "
      if [ "$t" = 2 ]; then  # the way before the engine's threads: OpenBLAS's own, one engine thread
        bline=$(env $(threads_env 2) "$bin" --case "$c" --threads 2 --seconds "$seconds" --thread-mode blas | grep "^ours case=$c threads=" | head -1)
        echo "round $r: $bline"
        b_runs+="$(field steps_per_s <<<"$bline") "
      fi
      if [ $peer_ok = 1 ]; then
        pout=$(env $(threads_env "$t") "$py" "$repo/bench/flow_torch.py" --data-dir "$data" --case "$c" --threads "$t" --seconds "$seconds" 2>&1 || true)
        [ "$r" = 1 ] && { grep "^peer env:" <<<"$pout" || true; }
        pline=$(grep -E "^peer (case=|skipped)" <<<"$pout" || echo "peer skipped: $py bench/flow_torch.py failed: $(tail -1 <<<"$pout")")
        echo "round $r: $pline"
        if [[ $pline == "peer skipped"* ]]; then peer_ok=0; else p_runs[$t]+="$(field steps_per_s <<<"$pline") "; fi
      fi
    done
  done
  # The peer under glibc's defaults, once per thread count: its figure if a user changed nothing.
  declare -A ours=() peer=()
  for t in 1 2; do
    ours[$t]=$(median <<<"${o_runs[$t]}")
    if [ $peer_ok = 1 ]; then
      dflt=$(env -u GLIBC_TUNABLES $(threads_env "$t") "$py" "$repo/bench/flow_torch.py" --data-dir "$data" --case "$c" --threads "$t" --seconds "$seconds" 2>&1 \
             | grep "^peer case=" | field steps_per_s || echo 0)
      tuned=$(median <<<"${p_runs[$t]}")
      echo "INFO flow_${c}_peer_glibc_defaults_${t}t peer=${dflt:-0} (GLIBC_TUNABLES unset, one run) vs peer=$tuned (GLIBC_TUNABLES as ours, median) steps/s"
      peer[$t]=$(awk -v a="$tuned" -v b="${dflt:-0}" 'BEGIN{print (b>a)?b:a}')
    fi
  done
  if [ "$profile_steps" -gt 0 ]; then
    for t in 1 2; do
      echo "INFO flow_${c}_profiled_step_${t}t ours=$(median <<<"${ps_runs[$t]}") ms (the profiled run; timed run: $(awk -v s="${ours[$t]}" 'BEGIN{printf "%.3f", 1e3/s}') ms)"
      for k in $categories; do
        echo "INFO flow_${c}_time_share_${k}_${t}t ours=$(median <<<"${f_runs[$t.$k]}") ($(median <<<"${m_runs[$t.$k]}") ms per step)"
      done
    done
  fi
  awk -v o="${ours[2]}" -v b="$(median <<<"$b_runs")" -v c="$c" \
    'BEGIN{printf "INFO flow_%s_2t_before_engine_threads ours=%.2f before=%.2f ratio=%.2f steps/s (before: --thread-mode blas, OpenBLAS'"'"'s 2 threads and one engine thread; medians)\n", c, o, b, o/b}'
  awk -v o="${ours[2]}" -v p="${ours[1]}" -v c="$c" \
    'BEGIN{printf "RESULT flow_%s_thread_scaling ours=%.2f peer=%.2f ratio=%.2f steps/s (peer = our own 1-thread figure)\n", c, o, p, o/p}'
  best_t=1; [ "$(awk -v a="${ours[2]}" -v b="${ours[1]}" 'BEGIN{print (a>b)}')" = 1 ] && best_t=2
  if [ $peer_ok = 1 ]; then
    for t in 1 2; do
      awk -v o="${ours[$t]}" -v p="${peer[$t]}" -v t="$t" -v c="$c" \
        'BEGIN{printf "RESULT flow_%s_steps_per_s_%dt ours=%.2f peer=%.2f ratio=%.2f steps/s (peer: its better allocator setting)\n", c, t, o, p, o/p}'
    done
    pbest_t=1; [ "$(awk -v a="${peer[2]}" -v b="${peer[1]}" 'BEGIN{print (a>b)}')" = 1 ] && pbest_t=2
    echo "best settings: ours ${best_t} thread(s), PyTorch ${pbest_t} thread(s)"
    awk -v o="${ours[$best_t]}" -v p="${peer[$pbest_t]}" -v c="$c" \
      'BEGIN{printf "RESULT flow_%s_steps_per_s_best ours=%.2f peer=%.2f ratio=%.2f steps/s\n", c, o, p, o/p}'
  else
    echo "peer skipped: python3-torch not installed, no ratios"
    for t in 1 2; do echo "RESULT flow_${c}_steps_per_s_${t}t ours=${ours[$t]} peer=skipped ratio=n/a steps/s"; done
    echo "RESULT flow_${c}_steps_per_s_best ours=${ours[$best_t]} peer=skipped ratio=n/a steps/s"
  fi
done
