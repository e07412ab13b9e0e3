#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build with warnings as errors, run
# every test tier except benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/install-deps.sh
./scripts/build.sh
echo "[test] running ctest (all tiers except bench)"
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -LE bench
echo "[test] done in $(( $(date +%s) - start )) s"
