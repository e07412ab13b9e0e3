#!/usr/bin/env bash
# The fluid approximation (`--fidelity fluid`) beside the exact simulator on one day of a ServeGen
# load curve, and the time each takes; then a whole 14-day curve in the fluid mode.
# Settings: Llama-3.3-70B H100 sample (limits 1..200), slo.attainment 99, m-small curve rate x0.19
# (thinned dispersion), lognormal lengths (CV 1) at the windows' means, cold start 600 s, policy
# interval 60 s, seed 1.
# Usage: tests/bench/fluid_check.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build}/bin/pdscaler
data=${PDSCALER_DATA:-$root/../shared/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/maxReplicas: 64/maxReplicas: 200/' "$root/crds/examples/llama33-70b-h100.yaml" > "$tmp/spec.yaml"
head -145 "$data/load-curves/servegen_m-small_14d.csv" > "$tmp/day.csv"
common=(-f "$tmp/spec.yaml" --attainment 99 --rate-scale 0.19 --cold-start 600s --interval 60s --jobs 1)
for fidelity in exact fluid; do
  echo "== one day (the first of servegen_m-small_14d.csv), $fidelity"
  start=$(date +%s%N)
  "$bin" simulate "${common[@]}" --load-curve "$tmp/day.csv" --fidelity "$fidelity" \
    --policy static:25,3 --policy static:12,2 --policy pdscaler --policy clairvoyant 2>/dev/null | tail -5
  echo "wall: $(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s"
done
echo "== 14 days (servegen_m-small_14d.csv), fluid, pdscaler alone"
start=$(date +%s%N)
"$bin" simulate "${common[@]}" --load-curve "$data/load-curves/servegen_m-small_14d.csv" --fidelity fluid \
  --policy pdscaler 2>/dev/null | tail -2
echo "wall: $(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s"
