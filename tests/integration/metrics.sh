#!/usr/bin/env bash
# Live rebalancing: the operator measures the load from a real Prometheus scraping vLLM-shaped
# metrics (tests/cluster/vllm_emulator.py) and follows load steps 2 -> 5 -> 2 M tokens/min:
# scale-up within a few intervals, scale-down only after the window, no oscillation. Then
# Prometheus is stopped for 60 s: replicas held, MetricsAvailable=False, a FailedGetMetrics
# event; and it recovers when Prometheus is back.
source "$(dirname "$0")/lib.sh"
cluster_up 12 8 3  # pods take 3 s from binding to Ready: the start-up time the operator measures
operator_up a
gpu_deployment dsv31-prefill 8
gpu_deployment dsv31-decode 8
emulator_up --schedule "0:2e6,75:5e6,150:2e6"
t_start=$(date +%s)
prometheus_up
apply_live_sample
at() { echo $(( $(date +%s) - t_start )); }
fleet_is() { [ "$(replicas_of dsv31-prefill)P$(replicas_of dsv31-decode)D" == "$1" ]; }
prefill_at_least() { [ "$(replicas_of dsv31-prefill)" -ge "$1" ]; }
decode_at_least() { [ "$(replicas_of dsv31-decode)" -ge "$1" ]; }
prefill_below() { [ "$(replicas_of dsv31-prefill)" -lt "$1" ]; }
fleet() { echo "$(replicas_of dsv31-prefill)P$(replicas_of dsv31-decode)D"; }
measured() { k get pdd deepseek-v31 -o jsonpath='{.status.metrics.requestsPerSecond}'; }

# Every second, the times a status carried a backlog to drain (read by the steady-load check).
watch_backlog() {
  while :; do
    b=$(k get pdd deepseek-v31 -o jsonpath='{.status.metrics.backlogRequestsPerSecond}' 2>/dev/null || true)
    [ -n "$b" ] && echo "$(at) $b"
    sleep 1
  done
}
start backlog watch_backlog

wait_for 60 "MetricsAvailable" condition_is deepseek-v31 MetricsAvailable True/Queried
wait_for 60 "2P2D at 2 M tokens/min (the declared 5 M would be 4P4D)" fleet_is 2P2D
log "t=$(at)s fleet $(fleet), measured $(measured) req/s (2 M tokens/min is 5.01)"

wait_for 120 "scale-up at 5 M tokens/min" prefill_at_least 4
up=$(at)
wait_for 60 "decode up too" decode_at_least 4
log "t=${up}s scaled up to $(fleet) (load stepped at t=75s), measured $(measured) req/s (5 M is 12.52)"
[ "$up" -le 75 ] && fail "scaled up before the load rose"
[ $(( up - 75 )) -le 45 ] || fail "scale-up took $(( up - 75 )) s after the step"

# Steady at 5 M until t=150: the count stays at the need (4 prefill) or one above it for the
# forecast's margin, and does not flap. One exception, by design: when the step left a queue on
# the smaller fleet, the operator adds the capacity to drain it (status.metrics.
# backlogRequestsPerSecond says so) and holds it for the scale-down window; then up to two above
# the need, and back within one above it once the window after the backlog has passed.
changes=0; last=$(replicas_of dsv31-prefill); seen="$(fleet)"
while [ "$(at)" -lt 148 ]; do
  now=$(replicas_of dsv31-prefill)
  backlog_at=$(awk 'END {print $1}' "$WORK/backlog.log")
  limit=5
  [ -n "$backlog_at" ] && [ $(( $(at) - backlog_at )) -le 40 ] && limit=6
  [ "$now" -ge 4 ] && [ "$now" -le "$limit" ] || fail "prefill at $now while the load held at 5 M (backlog last seen at t=${backlog_at:-never}s)"
  if [ "$now" != "$last" ]; then changes=$((changes + 1)); last=$now; seen="$seen $(fleet)"; fi
  sleep 1
done
log "prefill count changes while the load held at 5 M: $changes ($seen); a backlog to drain last seen at t=${backlog_at:-never}s"
stop_pid "$PID_backlog"
m() { k get pdd deepseek-v31 -o jsonpath="{.status.metrics.$1}"; }
log "at 5 M: observed TTFT $(m observedTtftSeconds) s vs predicted $(m predictedTtftSeconds) s; TPOT $(m observedTpotSeconds) vs $(m predictedTpotSeconds)"
log "calibration: prefill throughput x$(m calibration.prefillThroughputFactor), decode TPOT x$(m calibration.decodeTpotFactor), $(m calibration.windowsUsed) windows, last: $(m calibration.lastWindow)"
log "look-ahead: $(m startupSeconds) s, $(m startupSource)"
m startupSource | grep -q '^measured' || fail "start-up time not measured from the pods: $(m startupSource)"
python3 -c "import sys; sys.exit(0 if 2 <= float('$(m startupSeconds)') <= 8 else 1)" || fail "measured start-up $(m startupSeconds) s, the fake kubelet takes 3 s"
[ -n "$(m predictedTtftSeconds)" ] && [ -n "$(m calibration.lastWindow)" ] || fail "prediction and calibration in status"
# Per request: the shares within the SLO read off the engines' histograms beside the tail model's,
# and the burstiness measured from the first-token counts (the emulator's arrivals are Poisson).
log "at 5 M: within TTFT $(m observedTtftShare)% observed vs $(m predictedTtftShare)% predicted; within TPOT $(m observedTpotShare)% ($(m observedTpotShareOf)) vs $(m predictedTpotShare)%"
log "arrival dispersion: $(m arrivalDispersion) this window, planned with $(m plannedArrivalDispersion); prefill queue $(m prefillWaiting)"
[ -n "$(m observedTtftShare)" ] && [ -n "$(m observedTpotShare)" ] && [ -n "$(m predictedTtftShare)" ] \
  || fail "observed and predicted shares within the SLO in status"
python3 -c "import sys; sys.exit(0 if 1 <= float('$(m plannedArrivalDispersion)') <= 2.5 else 1)" \
  || fail "planned with dispersion $(m plannedArrivalDispersion) for Poisson arrivals"
[ "$changes" -le 3 ] || fail "flapping at steady load: $seen"

wait_for 150 "back to the 2 M fleet after the load fell" prefill_below 3
down=$(at)
log "t=${down}s scaled down to $(fleet) (load fell at t=150s; scale-down window 30 s, measurement window 20 s)"
[ $(( down - 150 )) -ge 30 ] || fail "reached the 2 M fleet $(( down - 150 )) s after the drop, inside the 30 s window"

log "stopping Prometheus for 60 s"
before=$(fleet)
stop_pid "$PID_prometheus"
wait_for 40 "MetricsAvailable=False" condition_is deepseek-v31 MetricsAvailable False/FailedGetMetrics
wait_for 30 "FailedGetMetrics event" has_event FailedGetMetrics
k get pdd deepseek-v31 -o jsonpath='{.status.conditions[?(@.type=="MetricsAvailable")].message}' | grep -q "holding the current replicas" \
  || fail "MetricsAvailable message"
sleep 45
assert_eq "$before" "$(fleet)" "replicas held while Prometheus was down"
prometheus_up
wait_for 60 "metrics again" condition_is deepseek-v31 MetricsAvailable True/Queried
log "t=$(at)s Prometheus back, fleet $(fleet)"
# No scale-down on the first measurements after the gap: the window restarts with the data.
sleep 20
[ "$(fleet)" == "$before" ] || fail "scaled from $before to $(fleet) within 20 s of the metrics coming back"
log "ok: still $before 20 s after the metrics came back"

log "restarting the operator: the load history and the calibration come back from status"
history=$(k get pdd deepseek-v31 -o jsonpath='{.status.metrics.history}' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
windows=$(m calibration.windowsUsed)
last=$(m lastEvaluation)
stop_pid "$PID_operator_a"
operator_up b
wait_for 30 "history restored" grep -q "restored [0-9]* evaluations and the calibration from status" "$WORK/operator-b.log"
log "$(grep -o 'restored [0-9]* evaluations and the calibration from status' "$WORK/operator-b.log") (status held $history)"
# The seasonal forecast's history, read back from Prometheus with range queries: the rate and the
# tokens/s in and out (the rate times the mean lengths, a PromQL product this checks on a real one).
wait_for 30 "seasonal history read" grep -q "seasonal forecast seeded with" "$WORK/operator-b.log"
seeded=$(grep -o 'seeded with [0-9]* points of the last 7.5 days ([0-9]* and [0-9]*' "$WORK/operator-b.log" | head -1 || true)
log "seasonal forecast $seeded of input and output tokens/s)"
read -r n_rate n_in n_out < <(echo "$seeded" | sed -E 's/^seeded with ([0-9]+) points .* \(([0-9]+) and ([0-9]+)$/\1 \2 \3/')
[ "${n_rate:-0}" -gt 0 ] && [ "${n_in:-0}" -gt 0 ] && [ "${n_out:-0}" -gt 0 ] \
  || fail "seasonal history from Prometheus: '$seeded'"
evaluated_again() { [ "$(m lastEvaluation)" != "$last" ] && [ -n "$(m calibration.windowsUsed)" ]; }
wait_for 30 "the new operator's first evaluation" evaluated_again
[ "$(m calibration.windowsUsed)" -ge "$windows" ] || fail "calibration windows went from $windows to $(m calibration.windowsUsed)"
sleep 10
p_before=${before%%P*}; d_before=${before#*P}; d_before=${d_before%D}
[ "$(replicas_of dsv31-prefill)" -ge "$p_before" ] && [ "$(replicas_of dsv31-decode)" -ge "$d_before" ] \
  || fail "scaled down from $before to $(fleet) right after the restart, inside the restored window"
log "ok: $(fleet) 10 s after the restart (was $before), calibration windows $windows -> $(m calibration.windowsUsed)"
log "PASS"
