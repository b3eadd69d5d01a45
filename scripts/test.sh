#!/usr/bin/env bash
# The whole test suite: typecheck, dist/ freshness, unit tests (pure code and conformance vectors),
# integration tests (real registries started by the tests, real skopeo and docker clients).
set -euo pipefail
cd "$(dirname "$0")/.."
run() { scripts/with-node24.sh "$@"; }
scripts/ensure-tools.sh
run npx --no-install tsc -p tsconfig.json --noEmit
# Lint: code (eslint). action.yml, the workflows and the README snippets are checked against
# SchemaStore schemas by __tests__/unit/project/workflows.test.ts and readme-yaml.test.ts.
run npm run --silent lint
run node scripts/build.ts --check
# Three test files at a time (Node's default is one fewer than the cores: one here). Most files
# wait on registries, proxies and clocks more than they compute; measured in BENCHMARKS.md.
run node --test --test-concurrency=3 --test-reporter=spec --test-reporter-destination=stdout '__tests__/unit/**/*.test.ts' '__tests__/integration/**/*.test.ts' '__tests__/profiles/**/*.test.ts' "$@"
