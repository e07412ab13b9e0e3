#!/usr/bin/env bash
# Policy benchmark on the two Azure LLM inference traces (2023, CC-BY-4.0, ../shared/data/traces)
# with the Llama-3.3-70B H100 TP8 profile (crds/examples/llama33-70b-h100.yaml): every policy's
# SLO attainment, GPU-hours and goodput per GPU-hour side by side, and the simulator's speed.
# Settings stated with the figures: rate scale 16 (so the mean load needs several prefill
# instances), cold start 60 s, policy interval 15 s; HPA: 15 s sync, 10% tolerance, 300 s
# scale-down window, targets from the SLO model; Dynamo: 180 s adjustment interval.
# Usage: tests/bench/policy_bench.sh [BUILD_DIR]   (writes HTML reports to $OUT or /tmp)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build}/bin/pdscaler
data=${PDSCALER_DATA:-$root/../shared/data}
out=${OUT:-/tmp}
spec=$root/crds/examples/llama33-70b-h100.yaml
policies=(--policy paper --policy hpa --policy dynamo --policy dynamo-kalman --policy pdscaler)
for trace in azure2023_conv azure2023_code; do
  echo "== $trace.csv, rate x16, cold start 60s"
  "$bin" simulate -f "$spec" --trace "$data/traces/$trace.csv" --rate-scale 16 --cold-start 60s \
    "${policies[@]}" --html "$out/pdscaler-$trace.html"
  echo
done
echo "== simulator speed: one hour of the conversation trace at its own rate (19,366 requests), pdscaler policy, 5 runs"
for i in 1 2 3 4 5; do
  "$bin" simulate -f "$spec" --trace "$data/traces/azure2023_conv.csv" --policy pdscaler -o json |
    python3 "$root/tests/bench/speed.py"
done | sort -n | awk '{a[NR]=$0} END{print "median of 5:", a[3]}'
