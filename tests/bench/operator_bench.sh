#!/usr/bin/env bash
# Operator figures against a real control plane (same harness as the integration tests):
#  1. edit-to-patch latency over 50 edits of workload.tokensPerMinute (time from the PDDeployment
#     PATCH returning to the Deployment's /scale showing the new count, polled every 2 ms);
#  2. operator RSS idle and with 100 PDDeployments;
#  3. reconciles per second against the real API server (first pass over 100 PDDeployments, and
#     the mean reconcile time from the operator's own histogram).
# Usage: tests/bench/operator_bench.sh   (needs a build in build/)
source "$(dirname "$0")/../integration/lib.sh"
start_sample_fleet 16

log "1. edit-to-patch latency, 50 edits"
python3 - "$API_PORT" "$ADMIN_TOKEN" <<'PY'
import json, ssl, statistics, sys, time, urllib.request
port, token = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
base = f"https://127.0.0.1:{port}"
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/merge-patch+json")
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.loads(r.read())
scale = "/apis/apps/v1/namespaces/default/deployments/dsv31-prefill/scale"
pdd = "/apis/pdscaler.io/v1alpha1/namespaces/default/pddeployments/deepseek-v31"
lat = []
for i in range(50):
    tpm, want = (8000000, 5) if i % 2 == 0 else (5000000, 4)
    call("PATCH", pdd, {"spec": {"workload": {"tokensPerMinute": tpm}}})
    t0 = time.monotonic()
    while call("GET", scale)["spec"]["replicas"] != want:
        if time.monotonic() - t0 > 10: sys.exit(f"edit {i}: no rescale within 10 s")
        time.sleep(0.002)
    lat.append(time.monotonic() - t0)
lat.sort()
p50 = statistics.median(lat); p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
print(f"edit-to-patch latency over {len(lat)} edits: p50 {p50*1000:.1f} ms, p99 {p99*1000:.1f} ms, max {lat[-1]*1000:.1f} ms")
PY

rss() { awk '/VmRSS/{print $2/1024 " MiB"}' "/proc/$1/status"; }
k delete pdd deepseek-v31 >/dev/null
sleep 2
log "2. RSS idle (no PDDeployments): $(rss "$PID_operator_a")"

log "creating 100 PDDeployments (zero load, so no pods) and their 200 Deployments"
stop_pid "$PID_operator_a"
for i in $(seq 1 100); do
  cat <<Y
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: p$i}
spec: {replicas: 0, selector: {matchLabels: {app: p$i}}, template: {metadata: {labels: {app: p$i}}, spec: {containers: [{name: e, image: x}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d$i}
spec: {replicas: 0, selector: {matchLabels: {app: d$i}}, template: {metadata: {labels: {app: d$i}}, spec: {containers: [{name: e, image: x}]}}}
---
$(sed "s/name: deepseek-v31\$/name: fleet-$i/; s/dsv31-prefill/p$i/; s/dsv31-decode/d$i/; s/tokensPerMinute: 5000000/tokensPerMinute: 0/; s/minReplicas: 1/minReplicas: 0/g" "$ROOT/crds/examples/deepseek-v31-h200.yaml" | grep -v '^#')
Y
done | k apply -f - >/dev/null
t0=$(date +%s.%N)
operator_up b
all_reconciled() { [ "$(k get pdd -o jsonpath='{range .items[*]}{.status.observedGeneration}{"\n"}{end}' | grep -c '^1$')" -eq 100 ]; }
wait_for 120 "100 PDDeployments reconciled" all_reconciled
t1=$(date +%s.%N)
sleep 3
log "2. RSS with 100 PDDeployments: $(rss "$PID_operator_b")"
metrics=$(curl -sf "http://127.0.0.1:$OP_METRICS_b/metrics")
count=$(awk '/^pdscaler_reconcile_duration_seconds_count/{print $2}' <<<"$metrics")
sum=$(awk '/^pdscaler_reconcile_duration_seconds_sum/{print $2}' <<<"$metrics")
python3 -c "
n, s, wall = $count, $sum, $t1 - $t0
print(f'3. first pass: 100 PDDeployments reconciled (status written) {wall:.2f} s after start, i.e. {100/wall:.0f} PDDeployments/s including start-up and cache sync')
print(f'3. reconcile time from the operator histogram: {n:.0f} reconciles, mean {s/n*1000:.2f} ms, i.e. {n/s:.0f} reconciles/s on one worker')
"
