#!/usr/bin/env bash
# The whole test suite: typecheck, dist/ freshness, unit tests (pure code and conformance vectors),
# integration tests (real registries started by the tests, real skopeo and docker clients).
set -euo pipefail
cd "$(dirname "$0")/.."
run() { scripts/with-node24.sh "$@"; }
scripts/ensure-tools.sh
run npx --no-install tsc -p tsconfig.json --noEmit
run node scripts/build.ts --check
run node --test --test-reporter=spec --test-reporter-destination=stdout 'test/unit/**/*.test.ts' 'test/integration/**/*.test.ts' "$@"
