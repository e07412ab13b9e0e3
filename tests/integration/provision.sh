#!/usr/bin/env bash
# Scenario 1: CRD + two GPU Deployments + the DeepSeek sample -> targets at 4P4D, status and
# printer columns right, SuccessfulRescale events, pods actually placed on GPU nodes.
source "$(dirname "$0")/lib.sh"
start_sample_fleet 8
wait_for 60 "Ready=True" condition_is deepseek-v31 Ready True/AsPlanned
assert_eq 4 "$(ready_of dsv31-prefill)" "ready prefill pods (8 GPUs each, on fake GPU nodes)"
assert_eq 4 "$(ready_of dsv31-decode)" "ready decode pods"
assert_eq 4P4D "$(status_field deepseek-v31 '{.status.plan}')" "status.plan"
assert_eq 1 "$(status_field deepseek-v31 '{.status.observedGeneration}')" "status.observedGeneration"
assert_eq 32 "$(status_field deepseek-v31 '{.status.prefill.gpus}')" "status.prefill.gpus"
assert_eq 25066.315789 "$(status_field deepseek-v31 '{.status.lastDecision.explanation.prefillThroughput}' | cut -c1-12)" "lastDecision prefillThroughput"
assert_eq False/WithinLimits "$(condition deepseek-v31 ScalingLimited)" "ScalingLimited"
assert_eq True/Scaling "$(condition deepseek-v31 ScalingActive)" "ScalingActive"
assert_eq False/AsExpected "$(condition deepseek-v31 Degraded)" "Degraded"

# Printer columns as users see them.
row=$(k get pdd deepseek-v31 --no-headers | awk '{print $1, $2, $3, $4, $5, $6}')
assert_eq "deepseek-v31 Auto 4/4 4/4 4P4D True" "$row" "kubectl get pdd columns"
header=$(k get pdd | head -1 | awk '{print $1, $2, $3, $4, $5, $6, $7}')
assert_eq "NAME MODE PREFILL DECODE PLAN READY AGE" "$header" "printer column names"
rescale_events() { events_json SuccessfulRescale | jq '.items | length'; }
two_rescales() { [ "$(rescale_events)" -ge 2 ]; }
wait_for 30 "SuccessfulRescale events" two_rescales
assert_eq 2 "$(rescale_events)" "SuccessfulRescale events"
event_messages SuccessfulRescale | grep -q "scaled prefill Deployment/dsv31-prefill from 1 to 4 (plan 4P4D)" \
  || fail "SuccessfulRescale message"

# The operator's own metrics.
metrics=$(curl -sf "http://127.0.0.1:$OP_METRICS_a/metrics")
grep -q 'pdscaler_desired_replicas{name="deepseek-v31",namespace="default",role="prefill"} 4' <<<"$metrics" || fail "desired replicas metric"
grep -q '^pdscaler_leader 1' <<<"$metrics" || fail "leader gauge"
grep -q 'pdscaler_reconcile_total{result="success"}' <<<"$metrics" || fail "reconcile counter"
grep -q 'pdscaler_predicted_tpot_seconds{name="deepseek-v31",namespace="default"} 0.0186' <<<"$metrics" || fail "predicted TPOT metric"

# A node agent that leaves condition times unset writes them as null (the API allows it): the pod
# reads as ready since an unknown time, with a warning, and the PDDeployment is still served.
pod=$(k get pods -l app=dsv31-prefill -o jsonpath='{.items[0].metadata.name}')
api PATCH "/api/v1/namespaces/default/pods/$pod/status" \
  '{"status": {"conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": null},
                              {"type": "Ready", "status": "True", "lastTransitionTime": null}]}}' >/dev/null
assert_eq null "$(k get pod "$pod" -o json | jq -c '.status.conditions[] | select(.type == "Ready") | .lastTransitionTime')" \
  "the API server keeps a null lastTransitionTime"
k patch pdd deepseek-v31 --type merge -p '{"spec":{"workload":{"tokensPerMinute":8000000}}}' >/dev/null
wait_for 30 "rescaled past a pod with null condition times" replicas_are dsv31-prefill 5
generation_2() { [ "$(status_field deepseek-v31 '{.status.observedGeneration}')" == 2 ]; }
wait_for 30 "status for generation 2" generation_2
metrics=$(curl -sf "http://127.0.0.1:$OP_METRICS_a/metrics")
! grep -q 'pdscaler_reconcile_total{result="error"}' <<<"$metrics" || fail "a reconcile failed: $(grep 'result="error"' <<<"$metrics")"
log "PASS"
