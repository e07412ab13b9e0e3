#!/usr/bin/env bash
# A soak: faults at random (seeded: SEED, default 1) on the API server's and Prometheus' paths for
# SOAK_S seconds (default 600), one at a time, 4-15 s each, with load edits to the static
# PDDeployment between them. Checked all along: the operator stays up, no count is written that
# the plan did not allow (the API server's record), the live fleet never falls on bad data, the
# static fleet reaches its plan within 60 s of every fault's end. Prints the operator's RSS at the
# start and the end and every minute. Not in the default suite (ctest label `soak`).
source "$(dirname "$0")/lib_faults.sh"
SOAK_S=${SOAK_S:-600}
RANDOM=${SEED:-1}
faults_up 18
API_FAULTS=(
  '[{"mode": "cut", "watch": true, "after_bytes": 300}]'
  '[{"mode": "status", "code": 410, "watch": true, "p": 0.5}, {"mode": "truncate", "watch": false, "methods": ["GET"], "p": 0.5}]'
  '[{"mode": "latency", "delay_s": 5}]'
  '[{"mode": "status", "code": 429, "retry_after_s": 2}]'
  '[{"mode": "status", "code": 500, "p": 0.5}, {"mode": "status", "code": 503, "p": 0.5}]'
  '[{"mode": "garble", "every": 9, "p": 0.5}]'
  '[{"mode": "status", "code": 409, "methods": ["PATCH"], "path": "/scale$"}]'
)
PROM_FAULTS=(
  '[{"mode": "latency", "delay_s": 12}]'
  '[{"mode": "body", "body": "<html>502</html>", "content_type": "text/html"}]'
  '[{"mode": "truncate"}]'
  '[{"mode": "rewrite", "value": "NaN", "p": 0.5}, {"mode": "rewrite", "value": "+Inf"}]'
  '[{"mode": "body", "body": "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}", "content_type": "application/json"}]'
)
live_story() {  # on failure: what the live PDDeployment measured and wrote, and what was allowed
  echo "--- the live fleet: measurements and writes"
  grep -E 'deepseek-v31: (measured|scale|metrics|cannot|not scaling)' "$WORK/operator-a.log" | tail -30
  echo "--- allowed"; grep dsv31 "$WORK/allowed" | tail -10
}
ON_FAIL+=(live_story)
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$PID_operator_a/status"; }
check_invariants() {
  kill -0 "$PID_operator_a" 2>/dev/null || fail "the operator died (see its log)"
  local bad; bad=$(wrong_writes | awk -F'\t' '$2 > 0')
  [ -z "$bad" ] || fail "wrong writes: $bad"
}
rss0=$(rss_kb); t0=$(date +%s); last_rss=$t0; n=0; api_n=0; prom_n=0
log "soak for $SOAK_S s, seed ${SEED:-1}; operator RSS at start: $rss0 kB"
window soak
while [ $(( $(date +%s) - t0 )) -lt "$SOAK_S" ]; do
  n=$((n + 1)); dur=$(( 4 + RANDOM % 12 ))
  next=$([ "$TPM" == 5000000 ] && echo 7000000 || echo 5000000)
  old=$(plan_of "$TPM"); new=$(plan_of "$next")
  allow st-prefill "${old% *},${new% *}"; allow st-decode "${old#* },${new#* }"
  if (( RANDOM % 2 )); then
    rules=${API_FAULTS[$(( RANDOM % ${#API_FAULTS[@]} ))]}; api_n=$((api_n + 1))
    fault_api "$rules"; fault_on=api
  else
    rules=${PROM_FAULTS[$(( RANDOM % ${#PROM_FAULTS[@]} ))]}; prom_n=$((prom_n + 1))
    fault_prom "$rules"; fault_on=prom
    # Bad answers (all but the slow one, whose data is late but true) must not move the live fleet
    # down. A measurement sent before the fault may still land in its first half second: the bar is
    # set a second in, at the fleet as it is then.
    sleep 1
    read -r p d <<<"$(live_fleet)"
    case $rules in *latency*) ;; *) allow dsv31-prefill ">=$p"; allow dsv31-decode ">=$d" ;; esac
  fi
  log "fault $n ($fault_on, ${dur}s): $rules"
  (( RANDOM % 2 )) && { TPM=$next; k patch pdd static --type merge -p "{\"spec\":{\"workload\":{\"tokensPerMinute\":$TPM}}}" >/dev/null; }
  end=$(( $(date +%s) + dur ))
  while [ "$(date +%s)" -lt "$end" ]; do check_invariants; sleep 1; done
  clear_faults
  # Good answers again: the live fleet may follow its measured load (an answer sent during the
  # fault and received after it is still bad, and still refused by the operator).
  allow dsv31-prefill '*'; allow dsv31-decode '*'
  want=$(plan_of "$TPM")
  until_true 60 static_served "$want" || fail "fault $n ($rules): the static fleet not at its plan $want 60 s after the fault ended"
  allow st-prefill "${want% *}"; allow st-decode "${want#* }"
  check_invariants
  if [ $(( $(date +%s) - last_rss )) -ge 60 ]; then last_rss=$(date +%s); log "t=$(( last_rss - t0 ))s: $n faults, operator RSS $(rss_kb) kB"; fi
done
rss1=$(rss_kb)
log "soak done: $n faults ($api_n on the API server's path, $prom_n on Prometheus') in $(( $(date +%s) - t0 )) s, 0 wrong writes; $(wc -l <"$WORK/replicas.jsonl") replicas changes recorded"
log "operator RSS: start $rss0 kB, end $rss1 kB"
[ "$rss1" -le $(( rss0 * 3 / 2 + 20480 )) ] || fail "the operator's RSS grew from $rss0 kB to $rss1 kB"
log "PASS"
