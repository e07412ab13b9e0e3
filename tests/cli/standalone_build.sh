#!/usr/bin/env bash
# `pdscaler` builds without the operator's dependencies: a fresh configure with the operator off
# and cpprestsdk, OpenSSL, spdlog and prometheus-cpp made unfindable (any find_package of them
# fails), a build of the CLI alone, a plan from it, and none of those libraries on its link line.
# Usage: tests/cli/standalone_build.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
rm -rf "$work"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$src" -B "$work" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DPDSCALER_BUILD_OPERATOR=OFF \
  -DPDSCALER_BUILD_TESTS=OFF -DCMAKE_DISABLE_FIND_PACKAGE_cpprestsdk=ON -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_spdlog=ON -DCMAKE_DISABLE_FIND_PACKAGE_prometheus-cpp=ON >/dev/null
cmake --build "$work" --target pdscaler -j "${JOBS:-2}" >/dev/null
"$work/bin/pdscaler" plan -f "$src/crds/examples/deepseek-v31-h200.yaml" | grep -q "4P4D"
if ldd "$work/bin/pdscaler" | grep -E 'cpprest|spdlog|prometheus|libssl|libcrypto|boost'; then
  echo "pdscaler links an operator dependency (above)" >&2
  exit 1
fi
echo "pdscaler built without the operator's dependencies and planned 4P4D"
rm -rf "$work"
