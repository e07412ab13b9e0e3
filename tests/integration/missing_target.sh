#!/usr/bin/env bash
# Scenario 6: a missing target -> TargetNotFound (condition and event), retried with backoff,
# reconciled as soon as the target appears; another PDDeployment keeps being served meanwhile.
source "$(dirname "$0")/lib.sh"
cluster_up 12 8
operator_up a
gpu_deployment dsv31-prefill 8
k apply -f "$ROOT/crds/examples/deepseek-v31-h200.yaml" >/dev/null
wait_for 30 "TargetNotFound" condition_is deepseek-v31 Ready False/TargetNotFound
wait_for 30 "TargetNotFound event" has_event TargetNotFound
k get pdd deepseek-v31 -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}' | grep -q "decode target Deployment/dsv31-decode not found" \
  || fail "TargetNotFound message"

log "a second, healthy PDDeployment is served meanwhile"
gpu_deployment other-prefill 1
gpu_deployment other-decode 1
sed 's/name: deepseek-v31$/name: other/; s/dsv31-prefill/other-prefill/; s/dsv31-decode/other-decode/; s/gpusPerReplica: 8/gpusPerReplica: 1/g; s/tokensPerMinute: 5000000/tokensPerMinute: 1000000/' \
  "$ROOT/crds/examples/deepseek-v31-h200.yaml" | k apply -f - >/dev/null
wait_for 30 "other PDDeployment Ready" condition_is other Ready True/AsPlanned

log "creating the missing target"
t0=$(date +%s.%N)
gpu_deployment dsv31-decode 8
wait_for 30 "decode reconciled" replicas_are dsv31-decode 4
log "target-created-to-scaled: $(python3 -c "print(round($(date +%s.%N)-$t0,2))") s"
wait_for 60 "Ready" condition_is deepseek-v31 Ready True/AsPlanned
log "PASS"
