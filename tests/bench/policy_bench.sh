#!/usr/bin/env bash
# Policy benchmark: every policy against the achievable, per request. Prints one table per load.
#
# Settings (the same for every load; stated again in each table's header):
# - profile: crds/examples/llama33-70b-h100.yaml (Llama-3.3-70B-FP8, H100 TP8; slo.attainment 99,
#   TTFT <= 500 ms, TPOT <= 20 ms per request; limits 1..64 per role, which no policy reaches);
# - Azure LLM inference traces 2023 (conversation, code; CC-BY-4.0, ../shared/data/traces), rate
#   x16 (each request stands for 16 jittered within 60 s), one hour each, cold start 60 s and 300 s,
#   policy interval 15 s, exact simulation;
# - ServeGen 14-day load curves (m-small rate x0.19, m-mid rate x0.12, Apache-2.0,
#   ../shared/data/load-curves; the rate scale thins the load, so the dispersion I becomes
#   1 + s (I - 1)), lognormal lengths (CV 1) at the windows' means, cold start 600 s, policy
#   interval 60 s, the fluid approximation (tests/bench/fluid_check.sh sets it beside the exact
#   simulator), limits 1..200;
# - every policy starts from the same fleet serving from t = 0 (the clairvoyant's first ask;
#   static ones at their own fleet); 5 seeds (rate-scale jitter, arrivals), mean and 95% interval;
# - policies: best-static (the cheapest fixed fleet in hindsight reaching 99% of feasible
#   requests), clairvoyant (perfect forecast), paper (the seed paper's formula at the peak), hpa,
#   dynamo (throughput planner), dynamo-load (current two-loop planner), dopd, pdscaler, and on the
#   14-day curves pdscaler-trend (without the daily seasonal forecast).
#
# - azure-pooled: the Azure cases again with one pooled prefill queue (--prefill-queue pooled, as
#   Dynamo's global prefill queue) instead of each request sent to an engine at arrival.
#
# Usage: tests/bench/policy_bench.sh [BUILD_DIR] [azure|azure-pooled|servegen|all]
#        (JSON and HTML to $OUT or /tmp)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build}/bin/pdscaler
what=${2:-all}
data=${PDSCALER_DATA:-$root/../shared/data}
out=${OUT:-/tmp}
seeds=${SEEDS:-5}
spec=$root/crds/examples/llama33-70b-h100.yaml
policies=(--policy best-static --policy clairvoyant --policy paper --policy hpa --policy dynamo --policy dynamo-load
          --policy dopd --policy pdscaler)

azure() {  # $1: per-engine | pooled (the prefill queue), $2: file name suffix
  for trace in azure2023_conv azure2023_code; do
    for cold in 60s 300s; do
      echo "== $trace.csv, rate x16, cold start $cold, interval 15s, prefill queue $1, $seeds seeds"
      "$bin" simulate -f "$spec" --trace "$data/traces/$trace.csv" --rate-scale 16 --cold-start "$cold" \
        --prefill-queue "$1" --seeds "$seeds" "${policies[@]}" --json "$out/policy-$trace-$cold$2.json" \
        --html "$out/policy-$trace-$cold$2.html" 2>/dev/null
      echo
    done
  done
}
if [ "$what" = azure ] || [ "$what" = all ]; then azure per-engine ""; fi
if [ "$what" = azure-pooled ] || [ "$what" = all ]; then azure pooled -pooled; fi

if [ "$what" = servegen ] || [ "$what" = all ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  sed 's/maxReplicas: 64/maxReplicas: 200/' "$spec" > "$tmp/spec.yaml"
  for curve in m-small:0.19 m-mid:0.12; do
    name=${curve%%:*}
    scale=${curve##*:}
    echo "== servegen_${name}_14d.csv, rate x$scale, cold start 600s, interval 60s, fluid, $seeds seeds"
    "$bin" simulate -f "$tmp/spec.yaml" --load-curve "$data/load-curves/servegen_${name}_14d.csv" \
      --rate-scale "$scale" --cold-start 600s --interval 60s --fidelity fluid --seeds "$seeds" \
      "${policies[@]}" --policy pdscaler-trend --html "$out/policy-servegen-$name.html" \
      --json "$out/policy-servegen-$name.json" 2>/dev/null
    echo
  done
fi
