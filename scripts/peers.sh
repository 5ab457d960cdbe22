# The Debian packages of the cross-check peers (sourced by setup.sh and test.sh: one list).
# threadpoolctl: the benches print the peer's BLAS; chromium: the run pages rendered headless (tests/apps/test_pages.cpp)
LZ_PEERS=(python3 python3-numpy python3-torch python3-sklearn python3-threadpoolctl chromium)
# Prints the peers that are not installed, one per line.
lz_missing_peers() {
  local p
  for p in "${LZ_PEERS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
