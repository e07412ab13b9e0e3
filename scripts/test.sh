#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build with warnings as errors, run
# every test tier except benchmarks and the soak; then the unit tier and one
# operator scenario again
# under AddressSanitizer and UndefinedBehaviorSanitizer (a second build tree, build-asan/); then
# each fuzz target for a few seconds on its committed corpus (clang, build-fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/install-deps.sh
./scripts/build.sh
echo "[test] running ctest (all tiers except bench and soak)"
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -LE 'bench|soak|faults'

echo "[test] sanitizers: building build-asan (Debug, ASan + UBSan)"
BUILD_DIR=build-asan BUILD_TYPE=Debug SANITIZE=ON ./scripts/build.sh >/dev/null
echo "[test] sanitizers: unit tier"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --test-dir build-asan --output-on-failure -L unit
echo "[test] sanitizers: the operator through a kube-apiserver SIGKILL and restart"
PDSCALER_BUILD_DIR=$PWD/build-asan bash tests/integration/apiserver_restart.sh
echo "[test] fuzzing: each target ${FUZZ_SECONDS:-10} s on its committed corpus"
./scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
echo "[test] done in $(( $(date +%s) - start )) s"
