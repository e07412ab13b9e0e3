#!/usr/bin/env bash
# Configures and builds pdscaler into build/ (or $BUILD_DIR): build/bin/pdscaler and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
build_type=${BUILD_TYPE:-RelWithDebInfo}
generator=()
if [ ! -f "$build_dir/CMakeCache.txt" ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
echo "[build] configuring $build_dir ($build_type)"
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type" -DPDSCALER_WERROR=ON \
  -DPDSCALER_SANITIZE="${SANITIZE:-OFF}" >/dev/null
echo "[build] compiling with 2 jobs"
cmake --build "$build_dir" -j "${JOBS:-2}"
