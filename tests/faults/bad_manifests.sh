#!/usr/bin/env bash
# Manifests that pass the API server's schema but make no sense, applied with kubectl beside a good
# PDDeployment: each gets Ready=False with a condition that names the field (or, for a plan no
# fleet can meet, the numbers that rule it out), no write to any workload (its own, or a
# same-named one in another namespace), and the good PDDeployment keeps being served: an edit to it
# is applied while the bad ones are there. About a minute.
source "$(dirname "$0")/../integration/lib.sh"
cluster_up 4 8
operator_up a
sample="$ROOT/crds/examples/deepseek-v31-h200.yaml"
k create namespace other >/dev/null
# manifest NAME PREFILL DECODE [SED]: the sample renamed, targeting PREFILL and DECODE.
manifest() {
  sed "s/name: deepseek-v31$/name: $1/; s/name: dsv31-prefill}/name: $2}/; s/name: dsv31-decode}/name: $3}/; ${4:-}" "$sample"
}
for d in good-prefill good-decode; do gpu_deployment "$d" 8; done
manifest good good-prefill good-decode | k apply -f - >/dev/null
good_at() { [ "$(replicas_of good-prefill) $(replicas_of good-decode)" == "$1" ]; }
wait_for 30 "good PDDeployment at its plan (4P4D)" good_at "4 4"

CASES=()
# bad NAME REASON EXPECTED SED [PREFILL DECODE]: NAME's manifest broken by SED; its targets
# (NAME-prefill and NAME-decode unless given) exist at 1 replica. Expects Ready=False/REASON with
# EXPECTED in the message.
bad() {
  local name=$1 p=${5:-$1-prefill} d=${6:-$1-decode}
  for w in "$p" "$d"; do k get deployment "$w" >/dev/null 2>&1 || gpu_deployment "$w" 8; done
  manifest "$name" "$p" "$d" "$4" | k apply -f - >/dev/null || fail "$name: refused by the API server (the schema lets it pass)"
  CASES+=("$name|$2|$3|$p|$d")
}
bad min-over-max InvalidSpec "spec.decode.maxReplicas: must be at least minReplicas (6), got 3" \
  '0,/minReplicas: 1/! s/minReplicas: 1/minReplicas: 6/; s/maxReplicas: 32/maxReplicas: 3/'
bad never-feasible Infeasible "which is not more than one prefill service time 6.144e+06 ms (6144 tokens at 1 tokens/s" \
  's/maxThroughput: 28300/maxThroughput: 1/'
bad one-workload InvalidSpec "spec.decode.scaleTargetRef: is the same workload as spec.prefill.scaleTargetRef (Deployment one-workload-both)" \
  '' one-workload-both one-workload-both
# A Deployment of the target's name exists both here and in "other": neither may be written.
gpu_deployment elsewhere-prefill 8 1 other
bad elsewhere InvalidSpec "spec.prefill.scaleTargetRef.namespace: \"other\" is not this PDDeployment's namespace (\"default\")" \
  's/name: elsewhere-prefill}/name: elsewhere-prefill, namespace: other}/'

for c in "${CASES[@]}"; do
  IFS='|' read -r name reason expected p d <<<"$c"
  wait_for 30 "$name: Ready=False/$reason" condition_is "$name" Ready "False/$reason"
  msg=$(k get pdd "$name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')
  grep -qF "$expected" <<<"$msg" || fail "$name: the condition does not say '$expected': $msg"
  log "ok: $name: Ready=False/$reason: $msg"
done
sleep 3  # a few more reconciles of each
for c in "${CASES[@]}"; do
  IFS='|' read -r name reason expected p d <<<"$c"
  assert_eq "1 1" "$(replicas_of "$p") $(replicas_of "$d")" "$name: its targets not written"
done
assert_eq 1 "$(replicas_of elsewhere-prefill other)" "the same-named Deployment in namespace other not written"

log "the good PDDeployment is still served: its load goes to 7 M tokens/min"
k patch pdd good --type merge -p '{"spec":{"workload":{"tokensPerMinute":7000000}}}' >/dev/null
want=$("$BUILD/bin/pdscaler" plan -f <(manifest good good-prefill good-decode) -o json --tokens-per-minute 7000000 |
  jq -r '"\(.prefill.replicas) \(.decode.replicas)"')
wait_for 30 "good PDDeployment at its new plan ($want)" good_at "$want"
log "ok: good at $want"

log "fixing a bad manifest clears its condition"
manifest one-workload one-workload-both one-workload-decode | k apply -f - >/dev/null
k get deployment one-workload-decode >/dev/null 2>&1 || gpu_deployment one-workload-decode 8
wait_for 30 "one-workload: scaling once fixed" condition_is one-workload ScalingActive True/Scaling
log "PASS"
