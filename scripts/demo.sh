#!/usr/bin/env bash
# Set everything up (packages, data), build, and run the demo: a tour of the zoo.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/setup.sh"
cd "$repo"
exec "$repo/build/bin/demo" "$@"
