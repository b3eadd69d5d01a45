#!/usr/bin/env bash
# Demo of the main job: start a local registry, push four sample per-arch images, run the bundled
# action exactly as the Actions runner does (INPUT_* variables, GITHUB_OUTPUT file), print the
# digest and platforms, and read the result back with docker manifest inspect when docker is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-tools.sh
exec scripts/with-node24.sh node scripts/demo.ts "$@"
