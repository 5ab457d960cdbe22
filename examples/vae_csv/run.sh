#!/usr/bin/env bash
# The package.consumer test: install the build tree (libraries, headers, drivers, package config)
# into a fresh prefix, then configure, build and run examples/vae_csv against it, as another
# project would, on a CSV written here (a noisy ring in 2-D, with a header).
#   run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work="$build/package-test"
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -x "$work/prefix/bin/vae" || { echo "run.sh: the install has no bin/vae" >&2; exit 1; }
cmake -S "$src/examples/vae_csv" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" -j2 >/dev/null
ring() {  # ring N SEED: N rows of a ring of radius 2 with Gaussian noise (Box-Muller)
  awk -v n="$1" -v seed="$2" 'BEGIN { srand(seed); print "x,y";
    for (i = 0; i < n; i++) { t = 6.283185 * rand(); u = rand(); v = rand();
      e = sqrt(-2 * log(u + 1e-12)) * cos(6.283185 * v); f = sqrt(-2 * log(u + 1e-12)) * sin(6.283185 * v);
      printf "%.5f,%.5f\n", 2 * cos(t) + 0.1 * e, 2 * sin(t) + 0.1 * f } }'
}
ring 2000 1 > "$work/train.csv"
ring 500 2 > "$work/test.csv"
"$work/build/vae_csv" "$work/train.csv" "$work/test.csv" 40
