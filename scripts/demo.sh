#!/usr/bin/env bash
# The main job on a local default. Sets up and builds, sizes the two sample fleets with
# `pdscaler plan`, then runs live rebalancing for three minutes: a real local Kubernetes control
# plane (built once from Debian's source and cached: about 5 minutes the first time) with fake
# 8-GPU nodes, the operator, Debian's Prometheus, and an emulator serving vLLM-shaped metrics for
# the fleet the cluster runs while it replays the arrival-rate shape of the Azure conversation
# trace. Prints a line every 5 s: measured load, plan, ready/desired replicas per role, the
# calibrated model's TTFT/TPOT for the running fleet beside the observed ones, the share of
# requests within TTFT and within TPOT (the tail model's beside the engines' histograms'), and the
# calibration factors; then a summary. Ctrl-C stops everything; all processes are stopped on exit.
#   ./scripts/demo.sh              # all of it
#   ./scripts/demo.sh --plan-only  # just the two plans
#   ./scripts/demo.sh --real-node  # the fleet as real pods on a real kubelet + containerd node
#                                  # (root; builds the kubelet and images once: ~15 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh >/dev/null
for f in crds/examples/deepseek-v31-h200.yaml crds/examples/llama33-70b-h100.yaml; do
  echo "\$ build/bin/pdscaler plan -f $f"
  build/bin/pdscaler plan -f "$f"
  echo
done
[ "${1:-}" == "--plan-only" ] && exit 0

echo "== live rebalancing on a local control plane (first run builds Kubernetes 1.20.2: ~5 minutes)"
export PDSCALER_BUILD_DIR=$PWD/build
# The integration tests' harness: real etcd, kube-apiserver, controller-manager, scheduler on free
# loopback ports, fake 8-GPU nodes, the operator under the Helm chart's RBAC, Debian's Prometheus
# scraping vLLM-shaped metrics of the fleet the cluster runs (tests/cluster/vllm_emulator.py).
real=0
[ "${1:-}" == "--real-node" ] && real=1
if [ "$real" = 1 ]; then
  # Real pods: one kubelet + containerd node (tests/real/lib_node.sh), an engine-emulator container
  # per pod with a 10 s "model load" before its readiness probe passes, Prometheus scraping each
  # pod, and a router sending the requests; GPUs are an advertised count, not devices.
  source tests/real/lib_node.sh
  cluster_up 0 8
  real_node_up 96
  import_images engine
  engine_deployment dsv31-prefill prefill 3 8 10
  engine_deployment dsv31-decode decode 4 8 10
else
  source tests/integration/lib.sh
  cluster_up 16 8 10  # an emulated cold start: pods are Ready 10 s after binding
  gpu_deployment dsv31-prefill 8 3  # a running fleet, about right for the trace's mean load
  gpu_deployment dsv31-decode 8 4
fi
trace=${PDSCALER_TRACE:-$ROOT/../shared/data/traces/azure2023_conv.csv}
operator_up a
fleet_ready() { [ "$(ready_of dsv31-prefill)" == 3 ] && [ "$(ready_of dsv31-decode)" == 4 ]; }
wait_for 90 "the running 3P4D fleet ready" fleet_ready
if [ -f "$trace" ]; then
  echo "load: the arrival-rate shape of $(basename "$trace") (Azure LLM inference trace 2023, CC-BY-4.0),"
  echo "      20x faster (one trace minute every 3 s), rescaled to a mean of 4 M tokens/min at 6144/512 tokens"
  load=(--trace "$trace" --trace-speed 20 --mean-tokens-per-minute 4e6)
else
  echo "load: steps 2 -> 5 -> 2 M tokens/min (no trace at $trace)"
  load=(--schedule "0:2e6,60:5e6,120:2e6")
fi
duration=180
if [ "$real" = 1 ]; then
  start router python3 tests/real/router.py --server "https://127.0.0.1:$API_PORT" --token "$ADMIN_TOKEN" \
    --prefill dsv31-prefill --decode dsv31-decode --out "$WORK/router.json" "${load[@]}"
  pods_prometheus_up
  wait_for 90 "Prometheus scraping the 7 engine pods" pods_scraped 7
  POOL_LABEL=pool apply_live_sample
else
  emulator_up "${load[@]}"
  prometheus_up
  apply_live_sample
fi
echo
printf '%-9s %-13s %-6s %-8s %-8s %-21s %-21s %-17s %-17s %s\n' TIME MEASURED PLAN PREFILL DECODE "TTFT pred / observed" \
  "TPOT pred / observed" "<=TTFT pred/obs" "<=TPOT pred/obs" "CALIBRATION P/D"
# Percent of requests within a target, predicted / observed ("-" where not known yet).
share() { awk -v a="$1" -v b="$2" 'function f(x) { return x < 0 ? "-" : sprintf("%.1f%%", x) } BEGIN{printf "%s / %s", f(a), f(b)}'; }
line() {
  k get pdd deepseek-v31 -o json | jq -r '.status as $s | [
      $s.metrics.requestsPerSecond // 0, $s.plan // "-",
      "\($s.prefill.readyReplicas // 0)/\($s.prefill.desiredReplicas // 0)", "\($s.decode.readyReplicas // 0)/\($s.decode.desiredReplicas // 0)",
      ($s.metrics.predictedTtftSeconds // 0), ($s.metrics.observedTtftSeconds // 0),
      ($s.metrics.predictedTpotSeconds // 0), ($s.metrics.observedTpotSeconds // 0),
      ($s.metrics.predictedTtftShare // -1), ($s.metrics.observedTtftShare // -1),
      ($s.metrics.predictedTpotShare // -1), ($s.metrics.observedTpotShare // -1),
      ($s.metrics.calibration.prefillThroughputFactor // 1), ($s.metrics.calibration.decodeTpotFactor // 1)] | @tsv' |
    while IFS=$'\t' read -r rps plan p d tp to dp do_ stp sto sdp sdo cp cd; do
      printf '%-9s %-13s %-6s %-8s %-8s %-21s %-21s %-17s %-17s %s\n' "$(date +%H:%M:%S)" \
        "$(awk -v r="$rps" 'BEGIN{printf "%.2fM tok/min", r*6656*60/1e6}')" "$plan" "$p" "$d" \
        "$(awk -v a="$tp" -v b="$to" 'BEGIN{printf "%.2f s / %.2f s", a, b}')" \
        "$(awk -v a="$dp" -v b="$do_" 'BEGIN{printf "%.1f ms / %.1f ms", a*1000, b*1000}')" \
        "$(share "$stp" "$sto")" "$(share "$sdp" "$sdo")" \
        "$(awk -v a="$cp" -v b="$cd" 'BEGIN{printf "x%.2f / x%.2f", a, b}')"
    done
}
end=$(( $(date +%s) + duration ))
while [ "$(date +%s)" -lt "$end" ]; do
  line
  sleep 5
done
echo
k get pdd
echo
rescales=$(k get events --field-selector reason=SuccessfulRescale -o name | wc -l | tr -d ' ')
echo "summary: $rescales rescales in ${duration} s; $(k get events --field-selector reason=FailedGetMetrics -o name | wc -l | tr -d ' ') metrics failures"
k get pdd deepseek-v31 -o json | jq -r '.status.metrics | "calibration: prefill throughput x\(.calibration.prefillThroughputFactor), decode TPOT x\(.calibration.decodeTpotFactor) from \(.calibration.windowsUsed) windows; look-ahead \(.startupSeconds) s (\(.startupSource))"'
k get events --field-selector involvedObject.kind=PDDeployment --sort-by=.lastTimestamp -o custom-columns=REASON:.reason,MESSAGE:.message | tail -6
if [ "$real" = 1 ]; then
  stop_pid "$PID_router"
  for _ in $(seq 100); do [ -s "$WORK/router.json" ] && break; sleep 1; done
  echo "router (real pods): $(cat "$WORK/router.json" 2>/dev/null)"
fi
echo
echo "== stopping Prometheus, the emulator, the operator and the control plane"
