#!/usr/bin/env bash
# Scenario 5: the API server's schema rejects invalid manifests (one case per rule); an
# infeasible spec is accepted and reported as Ready=False/Infeasible with no workload write; a
# spec the schema cannot fully check (minReplicas > maxReplicas) gets InvalidSpec naming the field.
source "$(dirname "$0")/lib.sh"
cluster_up 2 8
operator_up a
gpu_deployment dsv31-prefill 8
gpu_deployment dsv31-decode 8
sample="$ROOT/crds/examples/deepseek-v31-h200.yaml"

rejects() {  # rejects DESCRIPTION SED-EXPR EXPECTED-IN-ERROR
  local out
  if out=$(sed "$2" "$sample" | sed 's/name: deepseek-v31$/name: bad/' | k apply --validate=false --dry-run=server -f - 2>&1); then
    fail "$1: accepted"
  fi
  grep -qF "$3" <<<"$out" || fail "$1: error does not mention '$3': $out"
  log "ok: rejected $1"
}
rejects "unknown mode" 's/mode: Auto/mode: Sometimes/' 'spec.mode'
rejects "TTFT not a duration" 's/ttft: 2s/ttft: soon/' 'spec.slo.ttft'
rejects "negative TPOT" 's/tpot: 20ms, ttft/tpot: -20ms, ttft/' 'spec.slo.tpot'
rejects "percentile 100" 's/ttftPercentile: 0/ttftPercentile: 100/' 'spec.slo.ttftPercentile'
rejects "negative load" 's/tokensPerMinute: 5000000/tokensPerMinute: -1/' 'spec.workload.tokensPerMinute'
rejects "two rates" 's/tokensPerMinute: 5000000,/tokensPerMinute: 5000000, requestsPerSecond: 3,/' 'spec.workload'
rejects "no rate" 's/tokensPerMinute: 5000000, //' 'spec.workload'
rejects "zero input length" 's/inputLength: 6144/inputLength: 0/' 'spec.workload.inputLength'
rejects "missing outputLength" 's/, outputLength: 512//' 'spec.workload'
rejects "outputLength and its histogram" 's/outputLength: 512/outputLength: 512, outputLengthDistribution: [{outputLength: 9, weight: 1}]/' 'spec.workload'
rejects "zero weight in the output histogram" 's/outputLength: 512/outputLengthDistribution: [{outputLength: 9, weight: 0}]/' 'spec.workload.outputLengthDistribution'
rejects "zero GPUs per replica" '0,/gpusPerReplica: 8/s//gpusPerReplica: 0/' 'spec.prefill.gpusPerReplica'
rejects "string throughput" 's/maxThroughput: 28300/maxThroughput: fast/' 'spec.prefill.maxThroughput'
rejects "negative minReplicas" '0,/minReplicas: 1/s//minReplicas: -1/' 'spec.prefill.minReplicas'
rejects "fractional batch size" 's/batchSize: 16,/batchSize: 16.5,/' 'spec.decode.tpotByBatchSize'
rejects "missing scaleTargetRef name" 's/kind: Deployment, name: dsv31-decode/kind: Deployment/' 'spec.decode.scaleTargetRef.name'
rejects "unknown rounding" 's/rounding: Ceil/rounding: Up/' 'spec.scaling.rounding'
rejects "missing slo" '/  slo:/d' 'spec.slo'
for f in "$ROOT"/crds/examples/*.yaml; do
  k apply --dry-run=server -f "$f" >/dev/null || fail "the sample $(basename "$f") is rejected by the schema"
done
log "ok: every sample in crds/examples passes the schema"

log "an infeasible spec is accepted and reported"
sed 's/tpot: 20ms, ttft/tpot: 5ms, ttft/' "$sample" | k apply -f - >/dev/null
wait_for 30 "Infeasible condition" condition_is deepseek-v31 Ready False/Infeasible
k get pdd deepseek-v31 -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}' | grep -q "9 ms, above slo.tpot 5 ms" \
  || fail "Infeasible message with the numbers"
wait_for 30 "Infeasible event" has_event Infeasible
sleep 2
assert_eq 1 "$(replicas_of dsv31-prefill)" "no write while infeasible"

log "what only the operator can check: minReplicas > maxReplicas"
sed 's/tpot: 20ms, ttft/tpot: 20ms, ttft/; 0,/minReplicas: 1/s//minReplicas: 20/' "$sample" | k apply -f - >/dev/null
wait_for 30 "InvalidSpec condition" condition_is deepseek-v31 Ready False/InvalidSpec
k get pdd deepseek-v31 -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}' | grep -q "spec.prefill.maxReplicas: must be at least minReplicas (20), got 16" \
  || fail "InvalidSpec message names the field"
assert_eq 1 "$(replicas_of dsv31-prefill)" "no write while invalid"
log "PASS"
