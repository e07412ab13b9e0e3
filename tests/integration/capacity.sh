#!/usr/bin/env bash
# CapacityLimited: the DeepSeek sample wants 4P4D (64 GPUs) on a cluster of 6 8-GPU nodes. Pods
# that stay Pending for lack of GPUs make the operator plan within the 48 GPUs that were
# schedulable (the planner's goodput split: 3P3D), with the condition and an event saying so;
# nothing is left Pending. When two nodes join, the full plan is tried again after the retry
# interval and holds.
source "$(dirname "$0")/lib.sh"
cluster_up 6 8
operator_up a
gpu_deployment dsv31-prefill 8
gpu_deployment dsv31-decode 8
sed "s/  scaling: {rounding: Ceil}/  scaling: {rounding: Ceil, pendingTimeout: 5s, capacityRetryInterval: 40s}/" \
  "$ROOT/crds/examples/deepseek-v31-h200.yaml" | k apply -f - >/dev/null
fleet() { echo "$(replicas_of dsv31-prefill)P$(replicas_of dsv31-decode)D"; }
fleet_is() { [ "$(fleet)" == "$1" ]; }
pending() { k get pods --field-selector=status.phase=Pending -o name | wc -l | tr -d ' '; }

wait_for 60 "CapacityLimited=True" condition_is deepseek-v31 CapacityLimited True/InsufficientGpus
msg=$(k get pdd deepseek-v31 -o jsonpath='{.status.conditions[?(@.type=="CapacityLimited")].message}')
log "CapacityLimited: $msg"
grep -q "Insufficient nvidia.com/gpu" <<<"$msg" || fail "the scheduler's reason is not in the message"
grep -q "planning within the 48 GPUs that were schedulable: plan 3P3D (48 GPUs) instead of 64 GPUs" <<<"$msg" \
  || fail "CapacityLimited message: $msg"
assert_eq 48 "$(status_field deepseek-v31 '{.status.capacity.gpus}')" "status.capacity.gpus"
wait_for 30 "CapacityLimited event" has_event CapacityLimited
wait_for 60 "3P3D, every pod placed" condition_is deepseek-v31 Ready True/AsPlanned
assert_eq 3P3D "$(fleet)" "fleet within the schedulable GPUs"
assert_eq 0 "$(pending)" "pods left Pending"

log "two more nodes join; the full plan is tried again $(k get pdd deepseek-v31 -o jsonpath='{.status.capacity.since}') + 40s"
add_gpu_node 6 8
add_gpu_node 7 8
wait_for 90 "back to 4P4D" fleet_is 4P4D
wait_for 60 "4P4D ready" condition_is deepseek-v31 Ready True/AsPlanned
assert_eq False/WithinCapacity "$(condition deepseek-v31 CapacityLimited)" "CapacityLimited after the retry"
assert_eq "" "$(status_field deepseek-v31 '{.status.capacity}')" "status.capacity cleared"
assert_eq 0 "$(pending)" "pods left Pending"
log "PASS"
