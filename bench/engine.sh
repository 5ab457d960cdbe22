#!/usr/bin/env bash
# Engine benchmark: one training step (forward, backward, SGD update) of a 784-400-20 ReLU MLP,
# batch 128, float32, log_softmax + nll loss: ours (bench/engine.cpp) vs PyTorch
# (bench/engine_torch.py, /usr/bin/python3) with the same shapes, at 1 and 2 threads each.
# Also reports the share of our step spent in sgemm (the step's five GEMMs timed alone).
#
#   bench/engine.sh                     builds bench_engine in build/ if needed
#   LZ_BUILD_DIR=build-x bench/engine.sh   another build folder
#   BENCH_SECONDS=4 bench/engine.sh        longer timing per setting (default 2 s)
#   BENCH_ROUNDS=5 bench/engine.sh         more alternating ours/peer rounds (default 3)
#   PROFILE_STEPS=0 bench/engine.sh        no time shares (default: a profiled run of 200 steps
#                                          after each timed run, never inside it; tensor/profile.hpp)
#
# Our N threads are the engine's own (tensor/parallel.hpp: products and large kernels split, OpenBLAS
# single-threaded inside). Each round also times our 2-thread step the way it ran before them
# (--thread-mode blas: OpenBLAS's 2 threads, one engine thread), for an INFO line with the before
# and after from one run; RESULT *_thread_scaling is our 2-thread figure over our 1-thread one.
# Each side runs in its own process per thread count with OPENBLAS_NUM_THREADS, OMP_NUM_THREADS
# and MKL_NUM_THREADS (and, for PyTorch, torch.set_num_threads) set to that count: both link the
# same OpenBLAS, and a second BLAS thread pool fighting the first would only measure contention.
# Fair by construction: every process runs under the GLIBC_TUNABLES exported below (large buffers
# stay in the heap rather than being mmapped and unmapped per use), and each side prints its BLAS
# library, kernel and allocator settings. The peer also runs once per thread count under glibc's
# defaults (INFO line); every RESULT compares against the peer's better of the two settings.
set -euo pipefail
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824
threads_env() { echo "OPENBLAS_NUM_THREADS=$1 OMP_NUM_THREADS=$1 MKL_NUM_THREADS=$1"; }
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${LZ_BUILD_DIR:-$repo/build}
case $build in /*) ;; *) build=$repo/$build ;; esac
seconds=${BENCH_SECONDS:-2}
py=/usr/bin/python3

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
if ! cmake --build "$build" --target bench_engine -j2 >"$build/bench_engine_build.log" 2>&1; then
  cat "$build/bench_engine_build.log" >&2
  echo "error: building bench_engine in $build failed (log above)" >&2
  exit 1
fi
bin=$build/bin/bench_engine

echo "engine bench: 784-400-20 ReLU MLP, batch 128, float32, SGD step; ${seconds}s per setting (median of 5 blocks), median of ${BENCH_ROUNDS:-3} alternating rounds"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Other processes may share the cores and their load drifts, so the two sides alternate
# (ours, peer, ours, peer, ...) over $rounds rounds and each figure is the median of its rounds.
rounds=${BENCH_ROUNDS:-3}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
declare -A o_runs p_runs s_runs g_runs st_runs f_runs m_runs
b_runs=""
profile_steps=${PROFILE_STEPS:-200}
categories="gemm kernels graph alloc optimizer other"
peer_ok=1
for r in $(seq 1 "$rounds"); do
  for t in 1 2; do
    out=$(env $(threads_env "$t") "$bin" --threads "$t" --seconds "$seconds" --profile-steps "$profile_steps")
    [ "$r" = 1 ] && grep "^ours env:" <<<"$out"
    line=$(grep "^ours threads=" <<<"$out")
    echo "round $r: $line"
    o_runs[$t]+="$(field steps_per_s <<<"$line") "
    s_runs[$t]+="$(field sgemm_share <<<"$line") "
    g_runs[$t]+="$(field sgemm_ms <<<"$line") "
    st_runs[$t]+="$(field step_ms <<<"$line") "
    if [ "$t" = 2 ]; then  # the way before the engine's threads: OpenBLAS's own, one engine thread
      bline=$(env $(threads_env 2) "$bin" --threads 2 --seconds "$seconds" --thread-mode blas | grep "^ours threads=")
      echo "round $r: $bline"
      b_runs+="$(field steps_per_s <<<"$bline") "
    fi
    for k in $categories; do
      sl=$(grep "^ours share threads=$t category=$k " <<<"$out" || true)
      f_runs[$t.$k]+="$(field fraction <<<"$sl") "
      m_runs[$t.$k]+="$(field ms_per_step <<<"$sl") "
    done
    if [ $peer_ok = 1 ]; then
      pout=$(env $(threads_env "$t") "$py" "$repo/bench/engine_torch.py" --threads "$t" --seconds "$seconds" 2>&1 || true)
      [ "$r" = 1 ] && { grep "^peer env:" <<<"$pout" || true; }
      pline=$(grep -E "^peer (threads=|skipped)" <<<"$pout" || echo "peer skipped: $py bench/engine_torch.py failed")
      echo "round $r: $pline"
      if [[ $pline == "peer skipped"* ]]; then peer_ok=0; else p_runs[$t]+="$(field steps_per_s <<<"$pline") "; fi
    fi
  done
done
# The peer under glibc's defaults, once per thread count: its figure if a user changed nothing.
declare -A peer_default
if [ $peer_ok = 1 ]; then
  for t in 1 2; do
    pline=$(env -u GLIBC_TUNABLES $(threads_env "$t") "$py" "$repo/bench/engine_torch.py" --threads "$t" --seconds "$seconds" 2>&1 \
            | grep "^peer threads=" || echo "steps_per_s=0")
    peer_default[$t]=$(field steps_per_s <<<"$pline")
  done
fi
declare -A ours peer share gemm_ms step_ms
for t in 1 2; do
  ours[$t]=$(median <<<"${o_runs[$t]}")
  share[$t]=$(median <<<"${s_runs[$t]}")
  gemm_ms[$t]=$(median <<<"${g_runs[$t]}")
  step_ms[$t]=$(median <<<"${st_runs[$t]}")
  if [ $peer_ok = 1 ]; then
    tuned=$(median <<<"${p_runs[$t]}")
    echo "INFO engine_peer_glibc_defaults_${t}t peer=${peer_default[$t]} (GLIBC_TUNABLES unset, one run) vs peer=$tuned (GLIBC_TUNABLES as ours, median) steps/s"
    peer[$t]=$(awk -v a="$tuned" -v b="${peer_default[$t]}" 'BEGIN{print (b>a)?b:a}')
  fi
done

for t in 1 2; do
  echo "INFO engine_sgemm_share_${t}t ours=${share[$t]} (the step's 5 GEMMs alone take ${gemm_ms[$t]} ms of a ${step_ms[$t]} ms step; medians)"
done
if [ "$profile_steps" -gt 0 ]; then
  for t in 1 2; do
    for k in $categories; do
      echo "INFO engine_time_share_${k}_${t}t ours=$(median <<<"${f_runs[$t.$k]}") ($(median <<<"${m_runs[$t.$k]}") ms per step; profiled run)"
    done
  done
fi
awk -v o="${ours[2]}" -v b="$(median <<<"$b_runs")" \
  'BEGIN{printf "INFO engine_2t_before_engine_threads ours=%.2f before=%.2f ratio=%.2f steps/s (before: --thread-mode blas, OpenBLAS'"'"'s 2 threads and one engine thread; medians)\n", o, b, o/b}'
awk -v o="${ours[2]}" -v p="${ours[1]}" \
  'BEGIN{printf "RESULT engine_thread_scaling ours=%.2f peer=%.2f ratio=%.2f steps/s (peer = our own 1-thread figure; goal 1.7)\n", o, p, o/p}'
best_t=1; [ "$(awk -v a="${ours[2]}" -v b="${ours[1]}" 'BEGIN{print (a>b)}')" = 1 ] && best_t=2
if [ $peer_ok = 1 ]; then
  for t in 1 2; do
    awk -v o="${ours[$t]}" -v p="${peer[$t]}" -v t="$t" \
      'BEGIN{printf "RESULT engine_steps_per_s_%dt ours=%.2f peer=%.2f ratio=%.2f steps/s (peer: its better allocator setting)\n", t, o, p, o/p}'
  done
  pbest_t=1; [ "$(awk -v a="${peer[2]}" -v b="${peer[1]}" 'BEGIN{print (a>b)}')" = 1 ] && pbest_t=2
  echo "best settings: ours ${best_t} thread(s), PyTorch ${pbest_t} thread(s)"
  awk -v o="${ours[$best_t]}" -v p="${peer[$pbest_t]}" \
    'BEGIN{printf "RESULT engine_steps_per_s_best ours=%.2f peer=%.2f ratio=%.2f steps/s\n", o, p, o/p}'
else
  echo "peer skipped: python3-torch not installed, no ratios"
  for t in 1 2; do echo "RESULT engine_steps_per_s_${t}t ours=${ours[$t]} peer=skipped ratio=n/a steps/s"; done
fi
