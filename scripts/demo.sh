#!/usr/bin/env bash
# The main job on a local default. Sets up and builds, sizes the two sample fleets with
# `pdscaler plan`, then runs the operator against a real local Kubernetes control plane (built
# once from Debian's source and cached: about 5 minutes the first time) with fake 8-GPU nodes,
# applies the DeepSeek sample, and walks its load through 5 -> 8 -> 2 -> 5 M tokens/min, printing
# a line per step: the load, the prefill/decode replicas the operator set and that became ready,
# and the predicted TTFT/TPOT. Ctrl-C stops everything; all processes are stopped on exit.
#   ./scripts/demo.sh              # all of it
#   ./scripts/demo.sh --plan-only  # just the two plans
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

echo "== the operator on a local control plane (first run builds Kubernetes 1.20.2: ~5 minutes)"
export PDSCALER_BUILD_DIR=$PWD/build
# The integration tests' harness: real etcd, kube-apiserver, controller-manager, scheduler on
# free loopback ports, fake GPU nodes, the operator under the Helm chart's RBAC.
source tests/integration/lib.sh
start_sample_fleet 16
k get nodes --no-headers | wc -l | xargs printf '%s fake nodes with 8 nvidia.com/gpu each\n'
echo
printf '%-9s %-17s %-7s %-15s %-15s %-11s %-10s\n' TIME LOAD PLAN PREFILL DECODE "TTFT(pred)" "TPOT(pred)"
current() {  # the status describes the latest spec and the fleet is at the plan and ready
  k get pdd deepseek-v31 -o json |
    jq -e '.status.observedGeneration == .metadata.generation and
           any(.status.conditions[]; .type == "Ready" and .status == "True")' >/dev/null
}
show() {  # show LOAD: one line once the fleet is at the plan and ready
  wait_for 60 "the fleet at the plan" current
  local plan p d ttft tpot
  IFS=$'\t' read -r plan p d ttft tpot < <(k get pdd deepseek-v31 -o json | jq -r '.status |
    [.plan, "\(.prefill.readyReplicas)/\(.prefill.desiredReplicas) ready", "\(.decode.readyReplicas)/\(.decode.desiredReplicas) ready",
     .lastDecision.explanation.predictedTtftMean * 1000, .lastDecision.explanation.predictedTpot * 1000] | @tsv')
  printf '%-9s %-17s %-7s %-15s %-15s %-11s %-10s\n' "$(date +%H:%M:%S)" "$1" "$plan" "$p" "$d" \
    "$(printf '%.0f ms' "$ttft")" "$(printf '%.1f ms' "$tpot")"
}
show "5.0M tokens/min"
for tpm in 8000000 2000000 5000000; do
  k patch pdd deepseek-v31 --type merge -p "{\"spec\":{\"workload\":{\"tokensPerMinute\":$tpm}}}" >/dev/null
  show "$(awk -v t="$tpm" 'BEGIN{printf "%.1fM tokens/min", t/1e6}')"
done
echo
k get pdd
echo
k get events --field-selector involvedObject.kind=PDDeployment --sort-by=.lastTimestamp -o custom-columns=REASON:.reason,MESSAGE:.message | tail -8
echo
echo "== stopping the control plane and the operator"
