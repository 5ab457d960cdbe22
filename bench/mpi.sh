#!/bin/sh
# Data-parallel VAE training on MPI (train/distributed.hpp): training images/s of the vae driver
# (the pytorch/examples VAE, 784-400-20-400-784 ReLU, Bernoulli, Adam, global batch 128, on
# Fashion-MNIST) at 1 rank x 1 thread, 1 rank x 2 threads and 2 ranks x 1 thread; then the
# gradient all-reduce alone (bench_mpi_allreduce, a buffer of the model's parameter count) and
# its share of a 2-rank step; then the ring all-reduce projection docs/training.md's table comes from.
#   bench/mpi.sh [SECONDS_PER_RUN=10] [ROUNDS=3]   builds vae and bench_mpi_allreduce in build/ (LZ_BUILD_DIR)
# The three settings run in turn in each round, and each figure is the median over the rounds, so
# that a change in the machine's load falls on all three alike rather than on one of them.
# images/s = steps x batch / train_seconds from the run's summary.json (training only: data
# loading and evaluation excluded). Every run gets OPENBLAS_NUM_THREADS=threads and the
# GLIBC_TUNABLES exported below (as bench/vae.sh). No peer: RESULT's peer is the 1-rank x 1-thread run.
set -eu
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
SECS=${1:-10}
ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${LZ_BUILD_DIR:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
command -v mpirun >/dev/null || { echo "skipped: mpirun not installed (openmpi-bin): no MPI figures"; exit 0; }
[ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
if ! cmake --build "$BUILD" --target vae bench_mpi_allreduce -j2 >"$BUILD/bench_mpi_build.log" 2>&1; then
  cat "$BUILD/bench_mpi_build.log" >&2; echo "error: building in $BUILD failed (log above)" >&2; exit 1
fi
BIN=$BUILD/bin
mpirun -np 2 "$BIN/bench_mpi_allreduce" 1 1 | grep -q "ranks=2" ||
  { echo "skipped: $BUILD was configured without MPI (libopenmpi-dev): no MPI figures"; exit 0; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
MIN=$(awk -v s="$SECS" 'BEGIN { print s / 60 }')
ARGS="--data fashion --arch 400 --latent 20 --act relu --batch 128 --epochs 1000 --time-budget $MIN --eval-k 1 --eval-n 10 --naive-n 0 --log-every 100000"
ips() {  # images/s of a finished run folder
  python3 -c "import json,sys; s=json.load(open(sys.argv[1]+'/summary.json')); print('%.1f' % (s['steps']*128/s['train_seconds']))" "$1"
}
run() {  # name ranks threads
  if [ "$2" = 1 ]; then
    OPENBLAS_NUM_THREADS=$3 "$BIN/vae" $ARGS --threads "$3" --out "$OUT/$1" >/dev/null 2>"$OUT/$1.err" || { cat "$OUT/$1.err" >&2; exit 1; }
  else
    OPENBLAS_NUM_THREADS=$3 mpirun -np "$2" -x OPENBLAS_NUM_THREADS -x GLIBC_TUNABLES "$BIN/vae" $ARGS --threads "$3" --out "$OUT/$1" >/dev/null 2>"$OUT/$1.err" || { cat "$OUT/$1.err" >&2; exit 1; }
  fi
  ips "$OUT/$1"
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
a11=""; a12=""; a21=""
r=1
while [ "$r" -le "$ROUNDS" ]; do
  x=$(run r1t1 1 1); a11="$a11 $x"; echo "round $r: vae 1 rank x 1 thread:  $x images/s"
  x=$(run r1t2 1 2); a12="$a12 $x"; echo "round $r: vae 1 rank x 2 threads: $x images/s"
  x=$(run r2t1 2 1); a21="$a21 $x"; echo "round $r: vae 2 ranks x 1 thread: $x images/s"
  rm -rf "$OUT/r1t2" "$OUT/r2t1"; [ "$r" = "$ROUNDS" ] || rm -rf "$OUT/r1t1"
  r=$((r + 1))
done
r11=$(echo "$a11" | median); r12=$(echo "$a12" | median); r21=$(echo "$a21" | median)
echo "medians over $ROUNDS rounds: 1x1 $r11, 1x2 $r12, 2x1 $r21 images/s"
P=$(sed -n 's/.*, \([0-9]*\) parameters,.*/\1/p' "$OUT/r1t1.err" | head -1)
ar=$(OPENBLAS_NUM_THREADS=1 mpirun -np 2 "$BIN/bench_mpi_allreduce" "$P" 300)
echo "$ar"
ms=$(echo "$ar" | sed -n 's/.*ms_per_call=\([0-9.]*\).*/\1/p')
step_ms=$(awk -v r="$r21" 'BEGIN { printf "%.3f", 1000 * 128 / r }')
echo "RESULT mpi_vae_1rank_2threads ours=$r12 peer=$r11 ratio=$(awk -v a="$r12" -v b="$r11" 'BEGIN{printf "%.3f", a/b}') images/s (peer: 1 rank x 1 thread; medians over $ROUNDS alternated rounds)"
echo "RESULT mpi_vae_2ranks_1thread ours=$r21 peer=$r11 ratio=$(awk -v a="$r21" -v b="$r11" 'BEGIN{printf "%.3f", a/b}') images/s (peer: 1 rank x 1 thread; medians over $ROUNDS alternated rounds)"
echo "RESULT mpi_allreduce_share ours=$ms peer=$step_ms ratio=$(awk -v a="$ms" -v b="$step_ms" 'BEGIN{printf "%.4f", a/b}') ms (all-reduce of $P floats per step vs the 2-rank step; ratio = its share)"
# Ring all-reduce model: t(N) = 2(N-1)/N * bytes / bandwidth + 2(N-1) * latency; each rank keeps
# a 128 batch (weak scaling), computing for t_c = 128 / (1 rank x 1 thread images/s);
# efficiency = t_c / (t_c + t(N)) (no overlap of the all-reduce with backward).
awk -v r="$r11" -v P="$P" 'BEGIN {
  tc = 128 / r; bytes = 4 * P
  printf "projection: compute %.2f ms/step per rank (batch 128), all-reduce %d bytes\n", 1000 * tc, bytes
  printf "%8s %14s %14s\n", "ranks", "10 Gbit/s", "100 Gbit/s"
  split("8 64 512", ns, " ")
  for (i = 1; i <= 3; i++) {
    n = ns[i]; line = sprintf("%8d", n)
    for (j = 1; j <= 2; j++) {
      bw = (j == 1 ? 10e9 : 100e9) / 8; lat = (j == 1 ? 20e-6 : 3e-6)
      t = 2 * (n - 1) / n * bytes / bw + 2 * (n - 1) * lat
      line = line sprintf(" %13.1f%%", 100 * tc / (tc + t))
    }
    print line
  }
  print "(latency per message: 20 us at 10 Gbit/s TCP, 3 us at 100 Gbit/s RDMA)"
}'
