#!/usr/bin/env bash
# Scenario 3: Recommend mode reports the plan in status and never writes a workload; Off does
# nothing but status.
source "$(dirname "$0")/lib.sh"
cluster_up 8 8
operator_up a
gpu_deployment dsv31-prefill 8 1
gpu_deployment dsv31-decode 8 1
sed 's/mode: Auto/mode: Recommend/' "$ROOT/crds/examples/deepseek-v31-h200.yaml" | k apply -f - >/dev/null
wait_for 30 "status.plan" bash -c "[ \"\$(kubectl --kubeconfig $WORK/admin.kubeconfig get pdd deepseek-v31 -o jsonpath='{.status.plan}')\" == 4P4D ]"
assert_eq False/RecommendOnly "$(condition deepseek-v31 ScalingActive)" "ScalingActive"
assert_eq 4 "$(status_field deepseek-v31 '{.status.prefill.desiredReplicas}')" "desired prefill in status"
sleep 3  # give a wrong write every chance to happen
assert_eq 1 "$(replicas_of dsv31-prefill)" "prefill untouched"
assert_eq 1 "$(replicas_of dsv31-decode)" "decode untouched"
has_event SuccessfulRescale && fail "no rescale events in Recommend mode"
gen=$(k get deployment dsv31-prefill -o jsonpath='{.metadata.generation}')
assert_eq 1 "$gen" "prefill Deployment generation (never written)"

log "mode: Off"
k patch pdd deepseek-v31 --type merge -p '{"spec":{"mode":"Off"}}' >/dev/null
wait_for 30 "ScalingActive False/Off" condition_is deepseek-v31 ScalingActive False/Off
assert_eq Off "$(status_field deepseek-v31 '{.spec.mode}')" "spec.mode stored as the string Off"
sleep 2
assert_eq 1 "$(replicas_of dsv31-prefill)" "prefill untouched in Off mode"
log "PASS"
