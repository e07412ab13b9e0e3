#!/usr/bin/env bash
# Scenario 8: two operators with --leader-elect: only the leader writes; kill it (SIGKILL, no
# release) and the other takes over within 20 s; a graceful stop (SIGTERM) hands over at once.
source "$(dirname "$0")/lib.sh"
cluster_up 12 8
operator_up a --leader-elect --leader-election-namespace pdscaler-system
operator_up b --leader-elect --leader-election-namespace pdscaler-system
gpu_deployment dsv31-prefill 8
gpu_deployment dsv31-decode 8
k apply -f "$ROOT/crds/examples/deepseek-v31-h200.yaml" >/dev/null
wait_for 30 "4P4D" replicas_are dsv31-prefill 4

holder=$(k -n pdscaler-system get lease pdscaler-operator -o jsonpath='{.spec.holderIdentity}')
leader_gauge() { curl -sf "http://127.0.0.1:$1/metrics" | awk '/^pdscaler_leader /{print $2}'; }
la=$(leader_gauge "$OP_METRICS_a"); lb=$(leader_gauge "$OP_METRICS_b")
assert_eq 1 "$(( la + lb ))" "exactly one leader (a=$la b=$lb, lease holder $holder)"
if [ "$la" == 1 ]; then leader=a; follower=b; else leader=b; follower=a; fi
writes() { grep -c 'scale .* ok$' "$WORK/operator-$1.log" || true; }
assert_eq 0 "$(writes $follower)" "writes by the follower"

log "SIGKILL the leader ($leader)"
pid_var="PID_operator_$leader"; follower_metrics="OP_METRICS_$follower"
t0=$(date +%s.%N)
stop_pid "${!pid_var}" KILL
wait_for 25 "follower takes over" bash -c "curl -sf http://127.0.0.1:${!follower_metrics}/metrics | grep -q '^pdscaler_leader 1'"
takeover=$(python3 -c "print(round($(date +%s.%N)-$t0,1))")
log "take-over after SIGKILL: $takeover s"
python3 -c "import sys; sys.exit(0 if $takeover <= 20 else 1)" || fail "take-over took $takeover s (> 20 s)"
k patch pdd deepseek-v31 --type merge -p '{"spec":{"workload":{"tokensPerMinute":7000000}}}' >/dev/null
wait_for 30 "the new leader writes" replicas_are dsv31-prefill 5
[ "$(writes $follower)" -gt 0 ] || fail "the new leader did not write"

log "graceful hand-over: SIGTERM the new leader while a third instance waits"
operator_up c --leader-elect --leader-election-namespace pdscaler-system
pid_var="PID_operator_$follower"
t0=$(date +%s.%N)
stop_pid "${!pid_var}" TERM
wait_for 10 "third instance leads" bash -c "curl -sf http://127.0.0.1:$OP_METRICS_c/metrics | grep -q '^pdscaler_leader 1'"
log "hand-over after SIGTERM (lease released): $(python3 -c "print(round($(date +%s.%N)-$t0,1))") s"
log "PASS"
