#!/usr/bin/env bash
# Scenario 7: kube-apiserver killed (SIGKILL) for 10 s and restarted -> the operator reconnects
# its watches and keeps working: an edit made after the restart is applied.
source "$(dirname "$0")/lib.sh"
start_sample_fleet 12

log "SIGKILL kube-apiserver (pid $PID_kube_apiserver) for 10 s"
stop_pid "$PID_kube_apiserver" KILL
sleep 10
kill -0 "$PID_operator_a" || fail "the operator died while the API server was down"
start_apiserver
log "kube-apiserver back"
k patch pdd deepseek-v31 --type merge -p '{"spec":{"workload":{"tokensPerMinute":7000000}}}' >/dev/null
wait_for 60 "rescaled after the restart" replicas_are dsv31-prefill 5
wait_for 30 "decode rescaled" replicas_are dsv31-decode 6
assert_eq 2 "$(status_field deepseek-v31 '{.status.observedGeneration}')" "observedGeneration after the restart"
curl -sf "http://127.0.0.1:$OP_HEALTH_a/readyz" >/dev/null || fail "operator not ready after the restart"
errors=$(curl -sf "http://127.0.0.1:$OP_METRICS_a/metrics" | grep -c '^pdscaler_api_errors_total' || true)
[ "$errors" -gt 0 ] || fail "API errors during the outage were not counted"
log "api error series counted during the outage: $errors"
log "PASS"
