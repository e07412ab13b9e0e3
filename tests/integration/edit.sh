#!/usr/bin/env bash
# Scenario 2: editing workload.tokensPerMinute rescales; the edit-to-patch latency is measured.
source "$(dirname "$0")/lib.sh"
start_sample_fleet 16

t0=$(date +%s.%N)
k patch pdd deepseek-v31 --type merge -p '{"spec":{"workload":{"tokensPerMinute":8000000}}}' >/dev/null
wait_for 30 "prefill rescaled to 5" replicas_are dsv31-prefill 5
t1=$(date +%s.%N)
wait_for 30 "decode rescaled to 7" replicas_are dsv31-decode 7
assert_eq 5P7D "$(status_field deepseek-v31 '{.status.plan}')" "plan at 8M tokens/min"
assert_eq 2 "$(status_field deepseek-v31 '{.status.observedGeneration}')" "observedGeneration after the edit"
log "edit-to-patch latency (including kubectl and polling): $(python3 -c "print(round($t1-$t0,3))") s"

k patch pdd deepseek-v31 --type merge -p '{"spec":{"workload":{"tokensPerMinute":2000000}}}' >/dev/null
wait_for 30 "scaled down to 2P2D" replicas_are dsv31-prefill 2
wait_for 30 "decode down to 2" replicas_are dsv31-decode 2
log "PASS"
