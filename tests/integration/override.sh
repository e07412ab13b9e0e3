#!/usr/bin/env bash
# Scenario 4: `kubectl scale` by hand -> ExternalOverride event and condition; reasserted by
# default; with onOverride: Yield, left alone until the spec changes.
source "$(dirname "$0")/lib.sh"
start_sample_fleet 12

k scale deployment dsv31-prefill --replicas=6 >/dev/null
wait_for 30 "ExternalOverride event" has_event ExternalOverride
wait_for 30 "reasserted to 4" replicas_are dsv31-prefill 4
assert_eq True/Reasserted "$(condition deepseek-v31 ExternalOverride)" "ExternalOverride condition"
event_messages ExternalOverride | grep -q "set to 6 by someone else (pdscaler had set 4); reasserting 4" \
  || fail "ExternalOverride message"

log "switching to onOverride: Yield"
k patch pdd deepseek-v31 --type merge -p '{"spec":{"scaling":{"onOverride":"Yield"}}}' >/dev/null
wait_for 30 "observed generation 2" bash -c "[ \"\$(kubectl --kubeconfig $WORK/admin.kubeconfig get pdd deepseek-v31 -o jsonpath='{.status.observedGeneration}')\" == 2 ]"
k scale deployment dsv31-decode --replicas=2 >/dev/null
wait_for 30 "Yielded" condition_is deepseek-v31 ScalingActive False/Yielded
sleep 3  # a reassert would have happened by now
assert_eq 2 "$(replicas_of dsv31-decode)" "decode left at the hand-set 2"
assert_eq True/Yielded "$(condition deepseek-v31 ExternalOverride)" "ExternalOverride while yielding"

log "editing the spec ends the yield"
k patch pdd deepseek-v31 --type merge -p '{"spec":{"workload":{"tokensPerMinute":5100000}}}' >/dev/null
wait_for 30 "decode back to the plan" replicas_are dsv31-decode 4
wait_for 30 "ScalingActive again" condition_is deepseek-v31 ScalingActive True/Scaling
log "PASS"
