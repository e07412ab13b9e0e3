#!/usr/bin/env bash
# Operator figures at scale against a real control plane (the integration harness: etcd,
# kube-apiserver, controller-manager, scheduler, 16 fake 8-GPU nodes, the chart's RBAC):
#  1. RSS idle (no PDDeployments);
#  2. first pass: N zero-load PDDeployments (2N Deployments) and the DeepSeek sample, all reconciled
#     (status written) after the operator starts;
#  3. steady state over 60 s after that: API requests by verb from the operator's own
#     pdscaler_api_requests_total, reads (get + list) per reconcile, operator CPU and RSS;
#  4. edit-to-patch latency over 50 edits of the sample with the N others present;
#  5. ten PDDeployments with spec.metrics (interval 5 s) on a real Prometheus, one of them through
#     a proxy that answers every query after 5 s: the gaps between evaluations of the others.
# Usage: tests/bench/operator_bench.sh    (PDSCALER_BUILD_DIR selects the build, default build/;
#        PDSCALER_BENCH_COUNT the number of PDDeployments, default 1000)
source "$(dirname "$0")/../integration/lib.sh"
N=${PDSCALER_BENCH_COUNT:-1000}
bench() { API_PORT=$API_PORT ADMIN_TOKEN=$ADMIN_TOKEN python3 "$ROOT/tests/bench/operator_bench.py" "$@"; }
rss() { awk '/VmRSS/{printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }
peak_rss() { awk '/VmHWM/{printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
scrape() { curl -sf "http://127.0.0.1:$1/metrics"; }
# metric_sum TEXT NAME [LABEL-FILTER]: the sum of a counter's series (optionally those matching a label).
metric_sum() { awk -v n="$2" -v f="${3:-}" '(index($1, n "{") == 1 || $1 == n) && index($1, f) {s += $2} END {printf "%d", s}' <<<"$1"; }
zero_deployment() {  # zero_deployment NAME: a Deployment at 0 replicas, no GPUs (the bench's filler)
  cat <<Y
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec: {replicas: 0, selector: {matchLabels: {app: $1}}, template: {metadata: {labels: {app: $1}}, spec: {containers: [{name: e, image: x}]}}}
Y
}

cluster_up 16 8
operator_up idle
sleep 10
log "1. RSS idle (no PDDeployments): $(rss "$PID_operator_idle")"
stop_pid "$PID_operator_idle"

log "creating $N PDDeployments (zero load, so no pods) and their $((2 * N)) Deployments, and the sample's fleet"
sample=$(grep -v '^#' "$ROOT/crds/examples/deepseek-v31-h200.yaml")
for i in $(seq 1 "$N"); do
  zero_deployment "p$i"
  zero_deployment "d$i"
  echo ---
  sed "s/name: deepseek-v31\$/name: fleet-$i/; s/dsv31-prefill/p$i/; s/dsv31-decode/d$i/; s/tokensPerMinute: 5000000/tokensPerMinute: 0/; s/minReplicas: 1/minReplicas: 0/g" <<<"$sample"
done >"$WORK/fleets.yaml"
gpu_deployment dsv31-prefill 8
gpu_deployment dsv31-decode 8
k create -f "$WORK/fleets.yaml" >/dev/null
k apply -f "$ROOT/crds/examples/deepseek-v31-h200.yaml" >/dev/null
# The controller-manager (20 requests/s by default) makes a ReplicaSet for each Deployment: let it
# finish, so the operator starts on a quiet cluster.
deadline=$(( $(date +%s) + 900 ))
until [ "$(k get replicasets -o name | wc -l)" -ge $((2 * N + 2)) ] && [ "$(ready_of dsv31-decode)" == 1 ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "the controller-manager did not make the ReplicaSets in 900 s"
  sleep 5
done
log "the controller-manager has made $((2 * N + 2)) ReplicaSets"

t0=$(date +%s.%N)
operator_up b
bench reconciled $((N + 1))
t1=$(date +%s.%N)
op=$PID_operator_b
log "2. first pass: $((N + 1)) PDDeployments reconciled (status written) $(python3 -c "print(f'{$t1 - $t0:.1f}')") s after the operator started"
wait_for 60 "the sample at 4P4D" replicas_are dsv31-prefill 4
sample_ready() { [ "$(ready_of dsv31-prefill)/$(ready_of dsv31-decode)" == 4/4 ]; }
wait_for 120 "the sample's pods ready" sample_ready
sleep 5

m0=$(scrape "$OP_METRICS_b"); c0=$(cpu_ticks "$op"); s0=$(date +%s.%N)
sleep 60
m1=$(scrape "$OP_METRICS_b"); c1=$(cpu_ticks "$op"); s1=$(date +%s.%N)
delta() { echo $(( $(metric_sum "$m1" "$@") - $(metric_sum "$m0" "$@") )); }
reconciles=$(delta pdscaler_reconcile_total)
reads=$(( $(delta pdscaler_api_requests_total 'verb="get"') + $(delta pdscaler_api_requests_total 'verb="list"') ))
by_verb=""
for v in get list watch patch create update; do by_verb+=" $v $(delta pdscaler_api_requests_total "verb=\"$v\"")"; done
python3 - <<PY
wall = $s1 - $s0
cpu = ($c1 - $c0) / $(getconf CLK_TCK) / wall * 100
n, reads = $reconciles, $reads
print(f"[bench] 3. steady state over {wall:.0f} s: {n} reconciles; API requests by verb:$by_verb; "
      f"{reads / max(n, 1):.2f} reads (get+list) per reconcile, {reads / wall:.1f} reads/s; operator CPU {cpu:.1f}% of a core")
PY
log "3. RSS with $N PDDeployments: $(rss "$op") (peak $(peak_rss "$op"))"

log "4. edit-to-patch latency with $N other PDDeployments"
bench edits deepseek-v31 dsv31-prefill | sed 's/^/[bench] 4. /'

log "5. ten PDDeployments measuring load from a real Prometheus, one of them answered after 5 s"
PROM_PORT=$(free_port); SLOW_PORT=$(free_port)
echo "global: {scrape_interval: 15s}" >"$WORK/prometheus.yml"
start prometheus prometheus --config.file "$WORK/prometheus.yml" --storage.tsdb.path "$WORK/prometheus" \
  --web.listen-address "127.0.0.1:$PROM_PORT"
wait_for 60 "Prometheus ready" curl -sf "http://127.0.0.1:$PROM_PORT/-/ready"
start slow-proxy python3 "$ROOT/tests/cluster/auth_proxy.py" --port "$SLOW_PORT" \
  --upstream "http://127.0.0.1:$PROM_PORT" --delay 5
wait_for 20 "slow proxy up" curl -sf "http://127.0.0.1:$SLOW_PORT/-/ready"
for i in $(seq 0 9); do
  url="http://127.0.0.1:$PROM_PORT"
  [ "$i" -eq 0 ] && url="http://127.0.0.1:$SLOW_PORT"
  zero_deployment "lp$i"
  zero_deployment "ld$i"
  echo ---
  sed "s/name: deepseek-v31\$/name: live-$i\n  labels: {bench: live}/; s/dsv31-prefill/lp$i/; s/dsv31-decode/ld$i/; s/minReplicas: 1/minReplicas: 0/g" <<<"$sample"
  echo "  metrics: {prometheus: {url: \"$url\"}, engine: custom, prefillSelector: 'job=\"p\"', decodeSelector: 'job=\"d\"', window: 20s, evaluationInterval: 5s, queries: {completions: 'vector(0.2)', meanInputLength: 'vector(6144)', meanOutputLength: 'vector(512)'}}"
done | k create -f - >/dev/null
sleep 10
bench evaluations 60 live-0 | sed 's/^/[bench] 5. /'
log "RSS at the end: $(rss "$op") (peak $(peak_rss "$op"))"
