#!/usr/bin/env bash
# Fuzz the parsers of untrusted files with libFuzzer under ASan+UBSan.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default 60 s each; targets: idx csv digits safetensors config
# Builds with clang in $LZ_FUZZ_BUILD (default <repo>/build-fuzz). Seeds come from fuzz/corpus/<t>;
# the growing corpus lives in fuzz/corpus-work/<t> (not committed); crash inputs are written to
# <build>/fuzz/crashes/<t>/ — fix the bug, then keep the input in tests/fuzz/regressions/<t>/
# (tests/fuzz/test_regressions.cpp replays every file there).
# Ends with one line per target: FUZZ <target> execs=<n> crashes=<k> seconds=<s>; exits 1 if a
# target crashed or ran nothing (scripts/test.sh --sanitize runs every target for 3 s this way).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx csv digits safetensors config)
build=${LZ_FUZZ_BUILD:-$repo/build-fuzz}

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang)" >&2; exit 1; }
cmake -S "$repo" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLZ_FUZZ=ON >/dev/null
cmake --build "$build" -j2 --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
summary=()
failed=0
for t in "${targets[@]}"; do
  work="$repo/fuzz/corpus-work/$t"
  crashes="$build/fuzz/crashes/$t"
  mkdir -p "$work" "$crashes"
  before=$(find "$crashes" -type f | wc -l)
  maxlen=4096
  [ "$t" = digits ] && maxlen=16384
  log="$build/fuzz/$t.log"
  start=$(date +%s)
  # -fork=1 -ignore_crashes=1: keep fuzzing after a crash so one run reports every distinct one.
  set +e
  "$build/fuzz/fuzz_$t" "$work" "$repo/fuzz/corpus/$t" -max_total_time="$secs" -max_len=$maxlen \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -artifact_prefix="$crashes/" >"$log" 2>&1
  rc=$?
  set -e
  end=$(date +%s)
  # fork mode prints "#<execs> ..." status lines; the last one carries the total.
  execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  [ -n "$execs" ] || execs=$(grep -oE 'number_of_executed_units: [0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
  after=$(find "$crashes" -type f | wc -l)
  if [ $((after - before)) -gt 0 ] || [ "${execs:-0}" -eq 0 ]; then failed=1; fi
  summary+=("FUZZ $t execs=${execs:-0} crashes=$((after - before)) seconds=$((end - start)) exit=$rc log=$log")
done
printf '%s\n' "${summary[@]}"
if [ "$failed" = 1 ]; then
  echo "fuzz.sh: a target crashed or executed nothing (see the lines above and their logs)" >&2
  exit 1
fi
