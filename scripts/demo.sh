#!/usr/bin/env bash
# The main job on a local default: set up, build, and size the two sample fleets
# (the seed paper's DeepSeek-V3.1 example, and Llama-3.3-70B on H100 from real profiles).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh >/dev/null
for f in crds/examples/deepseek-v31-h200.yaml crds/examples/llama33-70b-h100.yaml; do
  echo "\$ build/bin/pdscaler plan -f $f"
  build/bin/pdscaler plan -f "$f"
  echo
done
