#!/bin/bash
# Seconds per EM iteration of our GaussianMixture against scikit-learn's, on the same data from the
# same start (weights_init / means_init / precisions_init), at 1 and 2 BLAS threads:
#   (a) synth:   100,000 points in 16-D from a random 8-component full-covariance mixture, K = 8
#   (b) fashion: Fashion-MNIST's 60,000 training images on 50 principal components, K = 10
# for full and diag covariances. Both run ITERS iterations (tol = 0), so their final mean
# log-likelihoods must agree; both are printed.
#
#   bench/gmm.sh            builds bench_gmm first (BUILD=/path/to/build: another build folder;
#                           ITERS=12 by default)
#
# Ends with one line per figure:
#   RESULT gmm_<data>_<cov>_t<threads> ours=<s> peer=<s> ratio=<peer/ours, >1 means we are better> s/iter
# (wall time, the median iteration for ours, differential for scikit-learn), plus for 1 thread the
# process CPU time per iteration (differential for both), which a busy machine disturbs less.
#
# Fair by construction: both sides run under the GLIBC_TUNABLES exported below and the same
# OPENBLAS/OMP/MKL thread counts, and each prints its BLAS library, kernel and allocator settings.
# scikit-learn also runs under glibc's defaults (INFO line); the wall-time RESULT compares against
# its faster setting (the CPU-time RESULT against the tuned run).
set -euo pipefail
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
ITERS=${ITERS:-12}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/bin/bench_gmm
# Always built (a no-op when up to date): a stale or missing bench_gmm would time the wrong code.
[ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
if ! cmake --build "$BUILD" --target bench_gmm -j2 >"$BUILD/bench_gmm_build.log" 2>&1; then
  cat "$BUILD/bench_gmm_build.log" >&2
  echo "error: building bench_gmm in $BUILD failed (log above)" >&2
  exit 1
fi
PEER=1
if ! /usr/bin/python3 -c "import sklearn, threadpoolctl" 2>/dev/null; then
  echo "SKIP peer: python3-sklearn (with threadpoolctl) not installed; timing ours only"
  PEER=0
fi
DIR=$(mktemp -d /tmp/lz_bench_gmm.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

RESULTS=()
for data in synth fashion; do
  for cov in full diag; do
    for t in 1 2; do
      ours=$(OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t "$BIN" --data "$data" --cov "$cov" --iters "$ITERS" --dir "$DIR")
      echo "$ours"
      o=$(field s_per_iter "$ours")
      if [ "$PEER" = 1 ]; then
        peer=$(OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t \
               /usr/bin/python3 "$ROOT/bench/gmm_sklearn.py" "$DIR" "$data" "$cov" "$t" "$ITERS")
        echo "$peer"
        p_tuned=$(field s_per_iter "$peer")
        dflt=$(env -u GLIBC_TUNABLES OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t \
               /usr/bin/python3 "$ROOT/bench/gmm_sklearn.py" "$DIR" "$data" "$cov" "$t" "$ITERS" | grep "^peer data=")
        p_dflt=$(field s_per_iter "$dflt")
        echo "INFO gmm_${data}_${cov}_t${t}_peer_glibc_defaults peer=$p_dflt (GLIBC_TUNABLES unset) vs peer=$p_tuned (as ours) s/iter"
        p=$(python3 -c "print(min($p_tuned, $p_dflt))")
        echo "  final mean log-likelihood: ours $(field final_ll "$ours")  sklearn $(field final_ll "$peer")"
        ratio=$(python3 -c "print(f'{$p/$o:.2f}')")
        RESULTS+=("RESULT gmm_${data}_${cov}_t${t} ours=$o peer=$p ratio=$ratio s/iter")
        if [ "$t" = 1 ]; then  # process CPU time: steadier than wall time when the machine is shared
          oc=$(field cpu_s_per_iter "$ours"); pc=$(field cpu_s_per_iter "$peer")
          RESULTS+=("RESULT gmm_${data}_${cov}_t1_cpu ours=$oc peer=$pc ratio=$(python3 -c "print(f'{$pc/$oc:.2f}')") cpu-s/iter")
        fi
      else
        RESULTS+=("RESULT gmm_${data}_${cov}_t${t} ours=$o peer=skipped ratio=n/a s/iter")
      fi
    done
  done
done
printf '%s\n' "${RESULTS[@]}"
