#!/usr/bin/env bash
# Set everything up (packages, peers, data), build, and run the whole test suite through CTest.
#   scripts/test.sh              Release build in build/
#   scripts/test.sh --sanitize   ASan+UBSan build in build-sanitize/
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--sanitize" ]; then
  build="$repo/build-sanitize"
  "$repo/scripts/setup.sh" --peers --sanitize --build-dir "$build"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  build="$repo/build"
  "$repo/scripts/setup.sh" --peers --build-dir "$build"
fi
# Once setup has installed every peer (or under CI, which must have them), a cross-check that
# cannot find its peer fails, naming the package, instead of skipping (tests/skip.hpp).
source "$repo/scripts/peers.sh"
if [ -z "${LZ_REQUIRE_PEERS+set}" ] && { [ -n "${CI:-}" ] || [ -z "$(lz_missing_peers)" ]; }; then
  export LZ_REQUIRE_PEERS=1
fi
echo "test: LZ_REQUIRE_PEERS=${LZ_REQUIRE_PEERS:-} (1: a missing peer is a failure, else a skip)"
cd "$build"
ctest --output-on-failure -j2 --timeout 600
if [ "${1:-}" = "--sanitize" ]; then
  # Every fuzz target must still build, and survive a few seconds on its seeds (fails on a crash).
  "$repo/scripts/fuzz.sh" 3
fi
