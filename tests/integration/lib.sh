# Shared by the integration scenarios: a real control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler) on free loopback ports, fake GPU nodes with a fake
# kubelet, and the operator running under least-privilege RBAC. Everything started here is
# stopped by PID when the sourcing script exits.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${PDSCALER_BUILD_DIR:-$ROOT/build}
KUBE_BIN=$("$ROOT/tests/cluster/build-kube.sh" | tail -1)
export PATH="$KUBE_BIN:$PATH"
WORK=$(mktemp -d /tmp/pdscaler-it.XXXXXX)
PIDS=()
ON_FAIL=()      # functions whose output helps explain a failure (pod logs)
BEFORE_STOP=()  # functions run first at exit, while the control plane is still up (the real node's teardown)
SCENARIO=$(basename "$0" .sh)

log() { echo "[$SCENARIO $(date +%H:%M:%S)] $*"; }
fail() {
  echo "[$SCENARIO] FAIL: $*" >&2
  for h in "${ON_FAIL[@]}"; do "$h" >&2 || true; done
  for f in "$WORK"/operator*.log; do [ -f "$f" ] && { echo "--- last lines of $f" >&2; tail -25 "$f" >&2; }; done
  if [ -f "$WORK/admin.kubeconfig" ]; then
    echo "--- events" >&2
    kubectl --kubeconfig "$WORK/admin.kubeconfig" --request-timeout=5s get events -A 2>&1 | tail -15 >&2 || true
  fi
  exit 1
}

cleanup() {
  local rc=$?
  for (( i=${#BEFORE_STOP[@]}-1; i>=0; i-- )); do "${BEFORE_STOP[$i]}" || true; done
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -eq 0 ] || [ -z "${KEEP_WORK:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
  exit "$rc"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME CMD...: runs CMD in the background, logs to $WORK/NAME.log, sets PID_<NAME>.
start() {
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  printf -v "PID_${name//-/_}" '%s' "$pid"
}

stop_pid() {  # stop_pid PID [SIGNAL]
  kill -"${2:-TERM}" "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  wait "$1" 2>/dev/null || true
}

# wait_for SECONDS DESCRIPTION CMD...: polls CMD until it succeeds.
wait_for() {
  local timeout=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${timeout}s waiting for: $what"
    sleep 0.2
  done
}

assert_eq() {  # assert_eq EXPECTED ACTUAL WHAT
  [ "$1" == "$2" ] || fail "$3: expected '$1', got '$2'"
  log "ok: $3 = $2"
}

k() { kubectl --kubeconfig "$WORK/admin.kubeconfig" "$@"; }
api() {  # api METHOD PATH [BODY]: raw call as admin
  curl -sk -X "$1" -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/merge-patch+json" \
    ${3:+-d "$3"} "https://127.0.0.1:$API_PORT$2"
}

start_apiserver() {
  start kube-apiserver kube-apiserver --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
    --cert-dir "$WORK/certs" --token-auth-file "$WORK/tokens.csv" --authorization-mode=RBAC \
    --service-account-key-file "$WORK/sa.key" --service-account-signing-key-file "$WORK/sa.key" \
    --service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range 10.0.0.0/24 \
    --enable-priority-and-fairness=false --kubelet-preferred-address-types=InternalIP,Hostname
  wait_for 60 "kube-apiserver ready" curl -skf -H "Authorization: Bearer $ADMIN_TOKEN" "https://127.0.0.1:$API_PORT/readyz"
}

# add_gpu_node INDEX GPUS: a Ready node gpu-node-INDEX with GPUS nvidia.com/gpu (the fake kubelet
# runs the pods bound to it).
add_gpu_node() {
  k create -f - >/dev/null <<NODE
{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gpu-node-$1", "labels": {"kubernetes.io/hostname": "gpu-node-$1"}}}
NODE
  local cap="{\"cpu\": \"64\", \"memory\": \"512Gi\", \"pods\": \"110\", \"nvidia.com/gpu\": \"$2\"}"
  api PATCH "/api/v1/nodes/gpu-node-$1/status" "{\"status\": {\"capacity\": $cap, \"allocatable\": $cap,
    \"conditions\": [{\"type\": \"Ready\", \"status\": \"True\", \"reason\": \"FakeKubelet\", \"lastHeartbeatTime\": null}]}}" >/dev/null
  k taint nodes "gpu-node-$1" node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
}

# cluster_up [NODES] [GPUS_PER_NODE] [STARTUP_DELAY_S]
cluster_up() {
  local nodes=${1:-8} gpus=${2:-8} delay=${3:-0}
  ETCD_PORT=$(free_port); local peer; peer=$(free_port); API_PORT=$(free_port)
  log "control plane: etcd :$ETCD_PORT, kube-apiserver :$API_PORT"
  start etcd etcd --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "default=http://127.0.0.1:$peer"
  openssl genrsa -out "$WORK/sa.key" 2048 2>/dev/null
  ADMIN_TOKEN=$(openssl rand -hex 16)
  echo "$ADMIN_TOKEN,admin,admin,\"system:masters\"" >"$WORK/tokens.csv"
  start_apiserver
  cat >"$WORK/admin.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$WORK/certs/apiserver.crt"}}]
users: [{name: admin, user: {token: "$ADMIN_TOKEN"}}]
contexts: [{name: local, context: {cluster: local, user: admin, namespace: default}}]
current-context: local
KC
  start kube-controller-manager kube-controller-manager --kubeconfig "$WORK/admin.kubeconfig" \
    --leader-elect=false --controllers='*,-nodelifecycle' --service-account-private-key-file "$WORK/sa.key" \
    --root-ca-file "$WORK/certs/apiserver.crt" --secure-port=0 --port=0
  start kube-scheduler kube-scheduler --kubeconfig "$WORK/admin.kubeconfig" --leader-elect=false \
    --secure-port=0 --port=0
  for i in $(seq 0 $((nodes - 1))); do add_gpu_node "$i" "$gpus"; done
  start fake-kubelet python3 "$ROOT/tests/cluster/fake_kubelet.py" --server "https://127.0.0.1:$API_PORT" \
    --token "$ADMIN_TOKEN" --startup-delay "$delay"
  if [ "${CLUSTER_CRD:-1}" = 1 ]; then  # CLUSTER_CRD=0: the scenario installs it (helm install)
    k apply -f "$ROOT/crds/pdscaler.io_pddeployments.yaml" >/dev/null
    wait_for 30 "CRD established" k wait --for condition=established --timeout=1s crd/pddeployments.pdscaler.io
  fi
  wait_for 30 "default service account" k get serviceaccount default
  log "cluster up: $nodes nodes x $gpus GPUs"
}

helm_template() {  # helm_template [ARGS...]: the chart rendered as for the test cluster (1.20)
  helm template pdscaler-operator "$ROOT/charts/pdscaler" --namespace pdscaler-system --kube-version 1.20.2 "$@"
}

# The operator's identity: the ServiceAccount and least-privilege RBAC exactly as the Helm chart
# renders them, and a token for that ServiceAccount.
operator_rbac() {
  k create namespace pdscaler-system >/dev/null
  helm_template --show-only templates/serviceaccount.yaml --show-only templates/rbac.yaml | k apply -f - >/dev/null
  local token
  token=$(k -n pdscaler-system create token pdscaler-operator --duration=2h)
  cat >"$WORK/operator.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$WORK/certs/apiserver.crt"}}]
users: [{name: pdscaler-operator, user: {token: "$token"}}]
contexts: [{name: local, context: {cluster: local, user: pdscaler-operator, namespace: pdscaler-system}}]
current-context: local
KC
}

# operator_up NAME [ARGS...]: starts an operator; sets OP_METRICS_<NAME>, OP_HEALTH_<NAME>.
operator_up() {
  local name=$1; shift
  [ -f "$WORK/operator.kubeconfig" ] || operator_rbac
  local mport hport
  mport=$(free_port); hport=$(free_port)
  start "operator-$name" "$BUILD/bin/pdscaler-operator" --kubeconfig "$WORK/operator.kubeconfig" \
    --metrics-bind-address "127.0.0.1:$mport" --health-probe-bind-address "127.0.0.1:$hport" \
    --log-format text --log-level debug "$@"
  printf -v "OP_METRICS_$name" '%s' "$mport"
  printf -v "OP_HEALTH_$name" '%s' "$hport"
  wait_for 30 "operator $name ready" curl -sf "http://127.0.0.1:$hport/readyz"
}

# A GPU Deployment of the kind the PDDeployment scales.
gpu_deployment() {  # gpu_deployment NAME GPUS [REPLICAS] [NAMESPACE]
  k apply -n "${4:-default}" -f - >/dev/null <<DEP
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: ${3:-1}
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers:
        - name: engine
          image: vllm/vllm-openai:stand-in
          resources: {limits: {nvidia.com/gpu: "$2"}}
DEP
}

# start_sample_fleet NODES [OPERATOR-ARGS...]: a cluster of NODES 8-GPU nodes, operator "a", the
# DeepSeek sample's two Deployments and the sample itself, scaled to its 4P4D.
start_sample_fleet() {
  local nodes=$1; shift
  cluster_up "$nodes" 8
  operator_up a "$@"
  gpu_deployment dsv31-prefill 8
  gpu_deployment dsv31-decode 8
  k apply -f "$ROOT/crds/examples/deepseek-v31-h200.yaml" >/dev/null
  wait_for 30 "prefill scaled to 4" replicas_are dsv31-prefill 4
  wait_for 30 "decode scaled to 4" replicas_are dsv31-decode 4
}

# emulator_up ARGS...: vLLM-shaped metrics for the sample's two Deployments, replaying a load
# (--schedule SECONDS:TOKENS_PER_MINUTE,... or --trace FILE); sets EMU_PREFILL_PORT, EMU_DECODE_PORT.
emulator_up() {
  EMU_PREFILL_PORT=$(free_port); EMU_DECODE_PORT=$(free_port)
  start vllm-emulator python3 "$ROOT/tests/cluster/vllm_emulator.py" --server "https://127.0.0.1:$API_PORT" \
    --token "$ADMIN_TOKEN" --prefill dsv31-prefill --decode dsv31-decode \
    --prefill-port "$EMU_PREFILL_PORT" --decode-port "$EMU_DECODE_PORT" "$@"
  wait_for 20 "emulator serving" curl -sf "http://127.0.0.1:$EMU_DECODE_PORT/metrics"
}

# prometheus_up: Debian's Prometheus on a free loopback port scraping the emulator every second
# (jobs "prefill" and "decode"); keeps its data in $WORK/prometheus across restarts.
prometheus_up() {
  [ -n "${PROM_PORT:-}" ] || PROM_PORT=$(free_port)
  cat >"$WORK/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: prefill
    static_configs: [{targets: ["127.0.0.1:$EMU_PREFILL_PORT"]}]
  - job_name: decode
    static_configs: [{targets: ["127.0.0.1:$EMU_DECODE_PORT"]}]
YML
  start prometheus prometheus --config.file "$WORK/prometheus.yml" --storage.tsdb.path "$WORK/prometheus" \
    --web.listen-address "127.0.0.1:$PROM_PORT"
  wait_for 60 "Prometheus scraping both pools" bash -c \
    "curl -sf 'http://127.0.0.1:$PROM_PORT/api/v1/query?query=count(up==1)' | grep -q '\"value\":\[[0-9.]*,\"2\"\]'"
}

# apply_live_sample: the DeepSeek sample with spec.metrics on the local Prometheus and short
# windows (evaluation 5 s, rate window 20 s, start-up 5 s, scale-down window 30 s).
# POOL_LABEL=pool: select the pools by a `pool` label (the real-node tier's pods) instead of `job`.
apply_live_sample() {
  local l=${POOL_LABEL:-job}
  sed "s/  scaling: {rounding: Ceil}/  scaling: {rounding: Ceil}\n  metrics: {prometheus: {url: \"http:\/\/127.0.0.1:$PROM_PORT\"}, prefillSelector: '$l=\"prefill\"', decodeSelector: '$l=\"decode\"', window: 20s, evaluationInterval: 5s, startupTime: 5s, scaleDownWindow: 30s}/" \
    "$ROOT/crds/examples/deepseek-v31-h200.yaml" | k apply -f - >/dev/null
}

replicas_of() { k get deployment "$1" -n "${2:-default}" -o jsonpath='{.spec.replicas}'; }
ready_of() { k get deployment "$1" -n "${2:-default}" -o jsonpath='{.status.readyReplicas}'; }
status_field() { k get pdd "$1" -n "${3:-default}" -o jsonpath="$2"; }
condition() {  # condition PDD TYPE -> "status/reason"
  k get pdd "$1" -n "${3:-default}" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].status}/{.status.conditions[?(@.type==\"$2\")].reason}"
}
# Events by reason, read from the core/v1 API directly (not through kubectl's resource mapping,
# where "events" may also name events.k8s.io, which has no reason field selector).
events_json() {  # events_json REASON [NAMESPACE]
  api GET "/api/v1/namespaces/${2:-default}/events?fieldSelector=reason%3D$1"
}
has_event() {  # has_event REASON [NAMESPACE]
  events_json "$@" | jq -e '.items | length > 0' >/dev/null
}
event_messages() {  # event_messages REASON [NAMESPACE]: one message a line
  events_json "$@" | jq -r '.items[].message'
}
replicas_are() { [ "$(replicas_of "$1" "${3:-default}")" == "$2" ]; }
condition_is() { [ "$(condition "$1" "$2" "${4:-default}")" == "$3" ]; }
