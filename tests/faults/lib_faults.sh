# Shared by faults.sh and soak.sh: one real control plane (tests/integration/lib.sh) with the
# operator talking to the API server and to Prometheus through fault proxies (fault_proxy.py), a
# recorder of every spec.replicas value the API server holds (replica_recorder.py), and the
# bookkeeping that turns those records into "wrong writes": a value outside what the plan allowed
# at that moment. Two PDDeployments: "static" (declared load; its plan comes from `pdscaler plan`)
# and the live DeepSeek sample (measured load from Prometheus; never scaled down on bad data).
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
FAULTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLI=$BUILD/bin/pdscaler

# Every PID started is also written to a file: one started in a subshell (where PIDS does not
# reach the trap) is still stopped. cleanup() from lib.sh stops the rest in order.
eval "$(declare -f start | sed '1s/^start /lib_start /')"
start() { lib_start "$@"; echo "${PIDS[${#PIDS[@]}-1]}" >>"$WORK/pids"; }
faults_cleanup() {
  local rc=$? p known
  if [ -f "$WORK/pids" ]; then
    while read -r p; do
      known=0
      for q in "${PIDS[@]}"; do [ "$q" == "$p" ] && known=1; done
      [ "$known" == 1 ] || kill -KILL "$p" 2>/dev/null || true
    done <"$WORK/pids"
  fi
  # cleanup() reads the exit status from $?; under `set -e` a failing `(exit rc)` would end the
  # trap here and leave every process running, so errexit is off for the hand-over.
  set +e
  (exit "$rc")
  cleanup
}
trap faults_cleanup EXIT

now() { date +%s.%N | cut -c1-14; }
since() { python3 -c "print(f'{$(now) - $1:.1f}')"; }
fault_api() { curl -sf -X PUT "http://127.0.0.1:$API_CTL/faults" -d "$1" >/dev/null; }
fault_prom() { curl -sf -X PUT "http://127.0.0.1:$PROM_CTL/faults" -d "$1" >/dev/null; }
clear_faults() { fault_api '[]'; fault_prom '[]'; }
# allow NAME SPEC: from now on, NAME's spec.replicas may be SPEC: "4", "4,5", ">=2" or "*".
allow() { echo "$(now) $1 $2" >>"$WORK/allowed"; }
# window NAME: the scenario NAME starts now (wrong writes are counted per window).
window() { echo "$(now) $1" >>"$WORK/windows"; }
plan_of() {  # plan_of TOKENS_PER_MINUTE -> "P D" as `pdscaler plan` sizes the static manifest
  "$CLI" plan -f "$WORK/static.yaml" -o json --tokens-per-minute "$1" | jq -r '"\(.prefill.replicas) \(.decode.replicas)"'
}
static_fleet() { echo "$(replicas_of st-prefill) $(replicas_of st-decode)"; }
live_fleet() { echo "$(replicas_of dsv31-prefill) $(replicas_of dsv31-decode)"; }
static_served() {  # static_served "P D": the fleet and the status caught up with the spec
  [ "$(static_fleet)" == "$1" ] &&
    [ "$(k get pdd static -o jsonpath='{.status.observedGeneration}')" == "$(k get pdd static -o jsonpath='{.metadata.generation}')" ]
}
api_errors() { { curl -sf "http://127.0.0.1:$OP_METRICS_CUR/metrics" || true; } | awk '/^pdscaler_api_errors_total/ {s += $2} END {print s + 0}'; }
# until_true SECONDS CMD...: like wait_for, but returns 1 on time-out instead of failing the run.
until_true() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$deadline" ] || return 1; sleep 0.2; done
}

# faults_up NODES: the cluster, both proxies, the recorder, the operator, both PDDeployments at
# their plans, and the emulator + Prometheus for the live one (2 M tokens/min, steady).
faults_up() {
  cluster_up "${1:-18}" 8
  operator_rbac
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/proxy.key" -out "$WORK/proxy.crt" -days 1 \
    -subj /CN=fault-proxy -addext subjectAltName=IP:127.0.0.1 2>/dev/null
  API_PROXY=$(free_port); API_CTL=$(free_port)
  start api-proxy python3 "$FAULTS/fault_proxy.py" --listen "$API_PROXY" --control "$API_CTL" \
    --upstream "https://127.0.0.1:$API_PORT" --tls-cert "$WORK/proxy.crt" --tls-key "$WORK/proxy.key" \
    --upstream-timeout 600 --max-seconds 3600 --seed "${SEED:-1}"
  sed -i "s#https://127.0.0.1:$API_PORT#https://127.0.0.1:$API_PROXY#; s#$WORK/certs/apiserver.crt#$WORK/proxy.crt#" \
    "$WORK/operator.kubeconfig"
  wait_for 20 "API fault proxy" curl -sf "http://127.0.0.1:$API_CTL/stats"
  start recorder python3 "$FAULTS/replica_recorder.py" --server "https://127.0.0.1:$API_PORT" \
    --token "$ADMIN_TOKEN" --out "$WORK/replicas.jsonl" --max-seconds 3600
  : >"$WORK/allowed"; : >"$WORK/windows"
  window setup
  for d in st-prefill st-decode dsv31-prefill dsv31-decode; do allow "$d" '*'; done
  operator_up a
  OP_CUR=$PID_operator_a; OP_METRICS_CUR=$OP_METRICS_a
  for d in st-prefill st-decode dsv31-prefill dsv31-decode; do gpu_deployment "$d" 8; done
  sed 's/name: deepseek-v31$/name: static/; s/dsv31-prefill/st-prefill/; s/dsv31-decode/st-decode/' \
    "$ROOT/crds/examples/deepseek-v31-h200.yaml" >"$WORK/static.yaml"
  TPM=5000000
  k apply -f "$WORK/static.yaml" >/dev/null
  local want; want=$(plan_of $TPM)
  wait_for 60 "static at its plan ($want)" static_served "$want"

  emulator_up --schedule "0:2e6"
  prometheus_up
  PROM_PROXY=$(free_port); PROM_CTL=$(free_port)
  start prom-proxy python3 "$FAULTS/fault_proxy.py" --listen "$PROM_PROXY" --control "$PROM_CTL" \
    --upstream "http://127.0.0.1:$PROM_PORT" --max-seconds 3600 --seed "${SEED:-1}"
  wait_for 20 "Prometheus fault proxy" curl -sf "http://127.0.0.1:$PROM_CTL/stats"
  local real=$PROM_PORT; PROM_PORT=$PROM_PROXY; apply_live_sample; PROM_PORT=$real
  wait_for 90 "live sample measuring" condition_is deepseek-v31 MetricsAvailable True/Queried
  wait_for 90 "live sample sized (2P2D at 2 M tokens/min)" bash -c "[ \"\$(kubectl --kubeconfig $WORK/admin.kubeconfig get deploy dsv31-prefill -o jsonpath='{.spec.replicas}')\" == 2 ]"
  local p d; read -r p d <<<"$(static_fleet)"
  allow st-prefill "$p"; allow st-decode "$d"
  log "fleets: static $(static_fleet), live $(live_fleet)"
}

# wrong_writes: per window, the spec.replicas changes outside what was allowed (the API server's
# record), as "WINDOW COUNT DETAILS" lines.
wrong_writes() {
  python3 - "$WORK/replicas.jsonl" "$WORK/allowed" "$WORK/windows" <<'PY'
import json, sys
changes = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
allowed = [l.split(None, 2) for l in open(sys.argv[2]) if l.strip()]
windows = [l.split(None, 1) for l in open(sys.argv[3]) if l.strip()]
def ok(name, t, v):
    spec = "*"
    for at, n, s in allowed:
        if n == name and float(at) <= t:
            spec = s.strip()
    if spec == "*":
        return True, spec
    if spec.startswith(">="):
        return v is not None and v >= int(spec[2:]), spec
    return str(v) in spec.split(","), spec
per = {w[1].strip(): [] for w in windows}
for c in changes:
    good, spec = ok(c["name"], c["t"], c["replicas"])
    if good:
        continue
    win = "setup"
    for at, name in windows:
        if float(at) <= c["t"]:
            win = name.strip()
    per.setdefault(win, []).append("%s=%s (allowed %s)" % (c["name"], c["replicas"], spec))
for w, bad in per.items():
    print("%s\t%d\t%s" % (w, len(bad), "; ".join(bad)))
PY
}
