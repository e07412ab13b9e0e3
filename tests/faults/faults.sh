#!/usr/bin/env bash
# Faults between the operator and the API server and between the operator and Prometheus, on one
# real control plane (lib_faults.sh). For each: the operator does not crash, writes no count the
# plan did not allow (counted from the API server's record of every spec.replicas value), never
# scales down on missing or bad data, and is back to serving within the time shown once the fault
# ends. Prints the table (fault, fault seconds, recovered after, wrong writes, what the operator
# said) and fails if any row is not recovered or has a wrong write. About 5 minutes.
source "$(dirname "$0")/lib_faults.sh"
FAULT_S=${FAULT_S:-12}
faults_up 18
ROWS=(); FAILED=0

row() {  # row NAME FAULT_S RECOVERED SAID
  ROWS+=("$(printf '%s\t%s\t%s\t%s' "$1" "$2" "$3" "$4")")
  log "$1: recovered after $3 s ($4)"
}
other_tpm() { if [ "$TPM" == 5000000 ]; then echo 7000000; else echo 5000000; fi; }
edit_static() {  # edit_static TPM: the static PDDeployment's load changes (straight to the API server)
  TPM=$1
  k patch pdd static --type merge -p "{\"spec\":{\"workload\":{\"tokensPerMinute\":$TPM}}}" >/dev/null
}
# prepare_edit: allow the static fleet both its plan now and the next plan; sets OLD, NEW, NEXT_TPM.
prepare_edit() {
  NEXT_TPM=$(other_tpm); OLD=$(plan_of "$TPM"); NEW=$(plan_of "$NEXT_TPM")
  allow st-prefill "${OLD% *},${NEW% *}"; allow st-decode "${OLD#* },${NEW#* }"
}
settle_static() { allow st-prefill "${NEW% *}"; allow st-decode "${NEW#* }"; }
alive() { kill -0 "$OP_CUR" 2>/dev/null || { FAILED=1; log "FAIL: the operator died during: $1"; operator_up c; OP_CUR=$PID_operator_c; OP_METRICS_CUR=$OP_METRICS_c; }; }

# api_fault NAME RULES: the rules on the API proxy for FAULT_S seconds, the static load edited 2 s
# in (so the operator must act through the fault); recovered = the fleet and status at the new plan.
api_fault() {
  local name=$1 rules=$2 e0 t_end rec
  window "$name"; prepare_edit; e0=$(api_errors)
  fault_api "$rules"
  sleep 2
  edit_static "$NEXT_TPM"
  sleep $(( FAULT_S - 2 ))
  alive "$name"
  fault_api '[]'; t_end=$(now)
  if until_true 90 static_served "$NEW"; then rec=$(since "$t_end"); else rec="no (>90)"; FAILED=1; fi
  settle_static
  row "$name" "$FAULT_S" "$rec" "API errors counted: +$(( $(api_errors) - e0 ))"
}

# prom_fault NAME RULES: the rules on the Prometheus proxy for at least FAULT_S seconds and until
# the live PDDeployment says so; its fleet must hold exactly (then never fall below it); recovered
# = MetricsAvailable=True again.
prom_fault() {
  local name=$1 rules=$2 p d t0 t_end rec said ev0 since_fault
  window "$name"; read -r p d <<<"$(live_fleet)"
  allow dsv31-prefill "$p"; allow dsv31-decode "$d"
  ev0=$(events_json FailedGetMetrics | jq '[.items[].count] | add // 0')
  t0=$(date +%s); since_fault=$(date '+%Y-%m-%d %H:%M:%S')
  fault_prom "$rules"
  if [ -n "${3:-}" ]; then "$3"; fi
  if until_true 60 condition_is deepseek-v31 MetricsAvailable False/FailedGetMetrics; then
    said="MetricsAvailable=False: $(k get pdd deepseek-v31 -o jsonpath='{.status.conditions[?(@.type=="MetricsAvailable")].message}' | cut -c1-90)"
  else
    said="no MetricsAvailable=False"; FAILED=1
    # What the operator and the proxy did meanwhile, to tell a poller that never asked from
    # answers that came back in time.
    log "proxy: $(curl -s "http://127.0.0.1:$PROM_CTL/stats" | jq -c .stats)"
    cat "$WORK"/operator-*.log | awk -v from="[$since_fault" '$0 >= from && /deepseek-v31/' | tail -30 >&2 || true
  fi
  while [ $(( $(date +%s) - t0 )) -lt "$FAULT_S" ]; do sleep 0.5; done
  alive "$name"
  fault_prom '[]'; t_end=$(now)
  # Good data again: scaling up on it is right at once; scaling down only after a full window.
  allow dsv31-prefill ">=$p"; allow dsv31-decode ">=$d"
  if until_true 90 condition_is deepseek-v31 MetricsAvailable True/Queried; then rec=$(since "$t_end"); else rec="no (>90)"; FAILED=1; fi
  local ev1; ev1=$(events_json FailedGetMetrics | jq '[.items[].count] | add // 0')
  [ "$ev1" -gt "$ev0" ] || { said="$said; no FailedGetMetrics event"; FAILED=1; }
  row "$name" "$FAULT_S" "$rec" "$said; FailedGetMetrics events +$(( ev1 - ev0 ))"
}

api_fault "watch cut mid-event" '[{"mode": "cut", "watch": true, "after_bytes": 300}]'
api_fault "watch cut during a relist (410, truncated lists)" \
  '[{"mode": "status", "code": 410, "watch": true, "p": 0.5}, {"mode": "cut", "watch": true, "after_bytes": 1},
    {"mode": "truncate", "watch": false, "methods": ["GET"], "p": 0.7}]'
api_fault "API answers 5 s slow" '[{"mode": "latency", "delay_s": 5}]'
api_fault "429 with Retry-After: 2" '[{"mode": "status", "code": 429, "retry_after_s": 2}]'
api_fault "500 and 503 on every call" '[{"mode": "status", "code": 500, "p": 0.5}, {"mode": "status", "code": 503}]'
api_fault "bodies garbled" '[{"mode": "garble", "every": 9}]'

# Another writer bumps both Deployments' resourceVersion every 50 ms for 30 s while every /scale
# PATCH is answered 409 for the first 20 s.
storm() {
  local end=$(( $(date +%s) + 30 )) i=0
  while [ "$(date +%s)" -lt "$end" ]; do
    i=$((i + 1))
    for d in st-prefill st-decode; do
      api PATCH "/apis/apps/v1/namespaces/default/deployments/$d" "{\"metadata\":{\"annotations\":{\"bump\":\"$i\"}}}" >/dev/null &
    done
    wait; echo "$i" >"$WORK/bumps"; sleep 0.05
  done
}
window "/scale PATCH 409 storm (writer every 50 ms, 30 s)"; prepare_edit
start bumper bash -c "$(declare -f api storm); WORK=$WORK ADMIN_TOKEN=$ADMIN_TOKEN API_PORT=$API_PORT storm"
fault_api '[{"mode": "status", "code": 409, "methods": ["PATCH"], "path": "/scale$"}]'
sleep 2; edit_static "$NEXT_TPM"; sleep 18
fault_api '[]'; t_end=$(now)
if until_true 90 static_served "$NEW"; then rec=$(since "$t_end"); else rec="no (>90)"; FAILED=1; fi
stop_pid "$PID_bumper"; settle_static; alive "409 storm"
row "/scale PATCH 409 storm (writer every 50 ms, 30 s)" 20 "$rec" "$(cat "$WORK/bumps" 2>/dev/null || echo '?') resourceVersion bumps per Deployment"

# etcd SIGKILLed for 10 s: the API server answers 5xx; the edit lands just before.
window "etcd killed for 10 s"; prepare_edit
mapfile -d '' etcd_cmd </proc/"$PID_etcd"/cmdline
edit_static "$NEXT_TPM"; stop_pid "$PID_etcd" KILL
sleep 10
start etcd "${etcd_cmd[@]}"; t_end=$(now)
alive "etcd killed"
if until_true 120 static_served "$NEW"; then rec=$(since "$t_end"); else rec="no (>120)"; FAILED=1; fi
settle_static
row "etcd killed for 10 s" 10 "$rec" "kube-apiserver answered 5xx meanwhile"

# Prometheus: slower than the operator's 10 s timeout (and the static PDDeployment is still
# served meanwhile), an HTML page, a truncated body, NaN and +Inf values, stale samples (no data).
served_while_slow() {
  prepare_edit; edit_static "$NEXT_TPM"
  if until_true 20 static_served "$NEW"; then log "ok: the static PDDeployment was served while Prometheus hung"
  else log "FAIL: the static PDDeployment was not served while Prometheus hung"; FAILED=1; fi
  settle_static
}
prom_fault "Prometheus answers in 12 s (timeout 10 s)" '[{"mode": "latency", "delay_s": 12}]' served_while_slow
prom_fault "Prometheus answers an HTML page" \
  '[{"mode": "body", "body": "<html><body><h1>502 Bad Gateway</h1></body></html>", "content_type": "text/html"}]'
prom_fault "Prometheus body truncated" '[{"mode": "truncate"}]'
prom_fault "Prometheus values NaN and +Inf" '[{"mode": "rewrite", "value": "NaN", "p": 0.5}, {"mode": "rewrite", "value": "+Inf"}]'
prom_fault "Prometheus samples stale (no data)" \
  '[{"mode": "body", "body": "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}", "content_type": "application/json"}]'

# The operator SIGKILLed between its two /scale writes (the first new count recorded by the API
# server), then restarted: the end is the plan, as without the kill.
window "operator SIGKILLed mid-rescale"; prepare_edit
lines=$(wc -l <"$WORK/replicas.jsonl")
edit_static "$NEXT_TPM"
first_write() { tail -n +"$((lines + 1))" "$WORK/replicas.jsonl" | grep -q '"st-'; }
until_true 30 first_write || true
stop_pid "$OP_CUR" KILL; t_end=$(now)
log "killed the operator after: $(tail -n +"$((lines + 1))" "$WORK/replicas.jsonl" | tr '\n' ' ')"
operator_up b; OP_CUR=$PID_operator_b; OP_METRICS_CUR=$OP_METRICS_b
if until_true 60 static_served "$NEW"; then rec=$(since "$t_end"); else rec="no (>60)"; FAILED=1; fi
settle_static
row "operator SIGKILLed mid-rescale, restarted" 0 "$rec" "ends at $(static_fleet | tr ' ' /), the plan's $(tr ' ' / <<<"$NEW")"
window "end"
sleep 2

declare -A WRONG WHY
while IFS=$'\t' read -r w n why; do WRONG[$w]=$n; WHY[$w]=$why; done < <(wrong_writes)
echo
printf "%-52s %7s %15s %12s  %s\n" "fault" "fault s" "recovered (s)" "wrong writes" "what the operator said"
for r in "${ROWS[@]}"; do
  IFS=$'\t' read -r name secs rec said <<<"$r"
  key=$name
  [[ "$name" == "operator SIGKILLed"* ]] && key="operator SIGKILLed mid-rescale"
  n=${WRONG[$key]:-0}
  [ "$n" == 0 ] || { FAILED=1; said="$said; WRONG: ${WHY[$key]}"; }
  printf '%-52s %7s %15s %12s  %s\n' "$name" "$secs" "$rec" "$n" "$said"
done
for w in setup end; do [ "${WRONG[$w]:-0}" == 0 ] || { FAILED=1; echo "wrong writes in $w: ${WHY[$w]}"; }; done
echo "replicas changes recorded by the API server: $(wc -l <"$WORK/replicas.jsonl")"
[ "$FAILED" == 0 ] || fail "a fault was not recovered from, or a count was written that the plan did not allow"
log "PASS"
