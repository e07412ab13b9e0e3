# The real-node tier: the integration control plane (tests/integration/lib.sh) plus one real node —
# a kubelet 1.20.2 built from the same source, Debian's containerd and runc, a CNI bridge of our
# own — that runs real containers from images built here without a registry (images.sh).
# Facts and traps: ../shared/docs/real-node.md. One real kubelet per machine at a time (the kubelet
# and containerd use some fixed host paths), so a scenario holds a lock for its whole run; the
# node is torn down in order at exit, while the control plane is still up.
#
#   source tests/real/lib_node.sh
#   cluster_up 2 8; real_node_up 8; import_images operator
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "[real] needs root (containerd, cgroups, a bridge)" >&2; exit 1; }
KUBE_BIN=$("$ROOT/tests/cluster/build-kube.sh" node | tail -1)
export PATH="$KUBE_BIN:$PATH"

exec 8>/tmp/pdscaler-real-node.lock
flock -w 1800 8 || { echo "[real] another real node held the lock for 30 minutes" >&2; exit 1; }

NODE_NAME=pdscaler-real-0
NODE="$WORK/node"
BRIDGE=pdsreal0
POD_CIDR=${REAL_POD_CIDR:-10.231.0.0/24}
POD_GW=${POD_CIDR%.*}.1
API_VIP=10.0.0.1   # the `kubernetes` Service's cluster IP (first address of lib.sh's service range)
CTR_SOCK="$NODE/containerd.sock"
ctr_() { ctr -a "$CTR_SOCK" -n k8s.io "$@"; }

# IMAGES[name]=image reference and IMAGE_FILES[name]=its archive, once import_images has run.
declare -A IMAGES=() IMAGE_FILES=()

containerd_up() {
  # The pod bridge exists before the first pod (CNI's bridge plugin adopts it), so the service
  # NAT can be set on it now.
  ip link del "$BRIDGE" 2>/dev/null || true
  ip link add "$BRIDGE" type bridge
  ip addr add "$POD_GW/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  mkdir -p "$NODE/containerd" "$NODE/cni/conf" "$NODE/cni/ipam"
  cat >"$NODE/cni/conf/10-pdscaler.conflist" <<CNI
{"cniVersion": "0.4.0", "name": "pdscaler-real",
 "plugins": [{"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
              "ipam": {"type": "host-local", "dataDir": "$NODE/cni/ipam",
                       "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$POD_GW"}]],
                       "routes": [{"dst": "0.0.0.0/0"}]}}]}
CNI
  cat >"$NODE/containerd.toml" <<TOML
version = 2
root = "$NODE/containerd/root"
state = "$NODE/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$CTR_SOCK.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${IMAGES[pause]}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE/cni/conf"
TOML
  start containerd containerd --config "$NODE/containerd.toml"
  wait_for 30 "containerd answers" ctr_ version
}

# import_images NAME...: builds (or takes from the cache) and imports the images into the node's
# containerd; IMAGES[NAME] is then the reference a pod spec uses (imagePullPolicy: Never).
import_images() {
  local line name file ref
  while read -r line; do
    name=${line%%=*}; line=${line#*=}; file=${line%% *}; ref=${line#* }
    if [ -S "$CTR_SOCK" ]; then ctr_ images import "$file" >/dev/null; fi
    IMAGES[$name]=$ref
    IMAGE_FILES[$name]=$file
  done < <("$ROOT/tests/real/images.sh" "$@")
}

# The `kubernetes` Service's cluster IP, reached from pods as kube-proxy would: DNAT to the API
# server's loopback port (route_localnet lets the bridge deliver to 127.0.0.1). Pods then use
# in-cluster config unchanged: KUBERNETES_SERVICE_HOST, the mounted token and CA.
service_nat_up() {
  sysctl -qw "net.ipv4.conf.$BRIDGE.route_localnet=1"
  iptables -t nat -A PREROUTING -i "$BRIDGE" -d "$API_VIP" -p tcp --dport 443 \
    -j DNAT --to-destination "127.0.0.1:$API_PORT" -m comment --comment "pdscaler-real $WORK"
  NAT_RULE=1
}

kubelet_up() {
  local gpus=$1 kport hport
  kport=$(free_port); hport=$(free_port)
  mkdir -p "$NODE/kubelet" "$NODE/pki"
  cat >"$NODE/kubelet.yaml" <<CFG
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $kport
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $hport
cgroupDriver: cgroupfs
failSwapOn: false
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
evictionHard: {memory.available: "1%", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
CFG
  start kubelet kubelet --kubeconfig "$WORK/admin.kubeconfig" --config "$NODE/kubelet.yaml" \
    --container-runtime=remote --container-runtime-endpoint="unix://$CTR_SOCK" \
    --image-service-endpoint="unix://$CTR_SOCK" --pod-infra-container-image="${IMAGES[pause]}" \
    --root-dir "$NODE/kubelet" --cert-dir "$NODE/pki" --hostname-override "$NODE_NAME" \
    --node-ip 127.0.0.1 --node-labels "pdscaler.io/real-node=true" \
    --register-with-taints "pdscaler.io/real-node=true:NoSchedule" --v=1
  wait_for 60 "node $NODE_NAME registered" k get node "$NODE_NAME"
  # The kubelet refuses a loopback node IP and leaves the node without addresses; the API server
  # reaches it (logs, exec) at the InternalIP, which the kubelet keeps once set.
  api PATCH "/api/v1/nodes/$NODE_NAME/status" "{\"status\": {\"addresses\": [{\"type\": \"InternalIP\",
    \"address\": \"127.0.0.1\"}, {\"type\": \"Hostname\", \"address\": \"$NODE_NAME\"}],
    \"capacity\": {\"nvidia.com/gpu\": \"$gpus\"}}}" >/dev/null
  wait_for 90 "node $NODE_NAME Ready" k wait --for condition=Ready --timeout=1s "node/$NODE_NAME"
  # The admission plugin taints every new node not-ready; the node-lifecycle controller that would
  # lift it is off in this control plane (lib.sh), so lift it here once the kubelet says Ready.
  k taint nodes "$NODE_NAME" node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
  allocates() { [ "$(k get node "$NODE_NAME" -o jsonpath='{.status.allocatable.nvidia\.com/gpu}')" == "$1" ]; }
  wait_for 60 "node $NODE_NAME allocates $gpus GPUs" allocates "$gpus"
}

# real_node_placement INDENT: the pod-spec lines that put a pod on the real node (it is tainted,
# so the fake-node fleets stay off it).
real_node_placement() {
  printf '%*snodeSelector: {pdscaler.io/real-node: "true"}\n' "$1" ''
  printf '%*stolerations: [{key: pdscaler.io/real-node, operator: Exists, effect: NoSchedule}]\n' "$1" ''
}

# real_node_up GPUS: containerd, the pause image, the service NAT and the kubelet; Ready, with
# GPUS nvidia.com/gpu allocatable (no device plugin: pods that limit GPUs run without devices,
# and the scheduler enforces the count).
real_node_up() {
  local t0=$SECONDS
  import_images pause  # before containerd: its config names the sandbox image
  BEFORE_STOP+=(real_node_down)
  containerd_up
  ctr_ images import "${IMAGE_FILES[pause]}" >/dev/null
  service_nat_up
  kubelet_up "${1:-8}"
  log "real node $NODE_NAME Ready in $((SECONDS - t0)) s ($1 GPUs, pods on $POD_CIDR via $BRIDGE)"
}

# Teardown in the order real-node.md gives: pods, kubelet, containers and shims, containerd,
# mounts, cgroups, the bridge and the fixed host paths; then lib.sh stops the control plane.
real_node_down() {
  set +e
  if [ -n "${PID_kubelet:-}" ] && kill -0 "$PID_kubelet" 2>/dev/null; then
    k delete pods --all -A --field-selector "spec.nodeName=$NODE_NAME" --grace-period=5 --wait=false >/dev/null 2>&1
    for _ in $(seq 60); do
      [ -z "$(k get pods -A --field-selector "spec.nodeName=$NODE_NAME" -o name 2>/dev/null)" ] && break
      sleep 0.5
    done
    stop_pid "$PID_kubelet"
  fi
  if [ -S "$CTR_SOCK" ]; then
    local t
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s KILL "$t" >/dev/null 2>&1; done
    sleep 0.5
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" >/dev/null 2>&1; done
  fi
  # Shims of this containerd (their command line names its socket), by PID.
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CTR_SOCK" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  [ -n "${PID_containerd:-}" ] && stop_pid "$PID_containerd"
  [ -n "${NAT_RULE:-}" ] && iptables -t nat -D PREROUTING -i "$BRIDGE" -d "$API_VIP" -p tcp --dport 443 \
    -j DNAT --to-destination "127.0.0.1:$API_PORT" -m comment --comment "pdscaler-real $WORK" 2>/dev/null
  local m
  for m in $(awk -v w="$WORK" '$2 ~ "^"w {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
  for m in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/k8s.io; do
    [ -d "$m" ] && find "$m" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  ip link del "$BRIDGE" 2>/dev/null
  rm -rf /var/log/pods/* /var/log/containers/* /var/lib/kubelet/device-plugins /var/lib/cni/results 2>/dev/null
  set -e
}

# engine_deployment NAME ROLE REPLICAS [GPUS] [STARTUP_S]: a Deployment of engine-emulator pods on
# the real node (tests/cluster/vllm_engine.py, one engine per pod; labels app=NAME and
# pdscaler.io/pool=ROLE), with a /health readiness probe and a preStop drain. import_images engine first.
engine_deployment() {
  k apply -f - >/dev/null <<DEP
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: $3
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1, pdscaler.io/pool: $2}}
    spec:
$(real_node_placement 6)
      terminationGracePeriodSeconds: 60
      containers:
        - name: engine
          image: ${IMAGES[engine]}
          imagePullPolicy: Never
          args: [--role, $2, --startup-delay, "${5:-${STARTUP_S:-8}}"]
          ports: [{name: http, containerPort: 8000}]
          readinessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 1, failureThreshold: 1}
          lifecycle: {preStop: {httpGet: {path: /drain, port: http}}}
          resources: {limits: {nvidia.com/gpu: "${4:-1}"}}
DEP
}

# Prometheus discovering the pods: Debian's Prometheus 2.42 is built without kubernetes_sd, so
# tests/real/pod_sd.py serves the same targets and __meta_kubernetes_pod_* labels (role pod) over
# Prometheus' HTTP SD, read from the API server with a ServiceAccount that may only list pods;
# the relabelling below is the one a cluster's kubernetes_sd config would use.
# Sets PROM_PORT; on a failure the discovery state is shown.
pods_prometheus_up() {
  k create serviceaccount prometheus >/dev/null
  k create clusterrole prometheus-sd --verb=get,list,watch --resource=pods >/dev/null
  k create clusterrolebinding prometheus-sd --clusterrole=prometheus-sd --serviceaccount=default:prometheus >/dev/null
  k create token prometheus --duration=2h >"$WORK/prometheus.token"
  SD_PORT=$(free_port)
  start pod-sd python3 "$ROOT/tests/real/pod_sd.py" --server "https://127.0.0.1:$API_PORT" \
    --token-file "$WORK/prometheus.token" --port "$SD_PORT"
  PROM_PORT=$(free_port)
  ON_FAIL+=(discovery_state)
  cat >"$WORK/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: engines
    http_sd_configs: [{url: "http://127.0.0.1:$SD_PORT/sd", refresh_interval: 1s}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_label_pdscaler_io_pool], regex: "prefill|decode", action: keep}
      - {source_labels: [__meta_kubernetes_pod_container_port_name], regex: http, action: keep}
      - {source_labels: [__meta_kubernetes_pod_label_pdscaler_io_pool], target_label: pool}
      - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
YML
  start prometheus prometheus --config.file "$WORK/prometheus.yml" --storage.tsdb.path "$WORK/prometheus" \
    --web.listen-address "127.0.0.1:$PROM_PORT"
}
discovery_state() {
  echo "--- pod SD answer: $(curl -s -m 3 "http://127.0.0.1:$SD_PORT/sd" | head -c 600)"
  echo "--- Prometheus targets: $(curl -s -m 3 "http://127.0.0.1:$PROM_PORT/api/v1/targets" | head -c 1200)"
  echo "--- Prometheus log"; tail -5 "$WORK/prometheus.log"
}
# pods_scraped N: Prometheus has N engine pods up.
pods_scraped() {
  curl -sfG "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode 'query=count(up{pool!=""}==1)' |
    grep -q "\"value\":\[[0-9.]*,\"$1\"\]"
}

# yields N CMD...: CMD prints N (for wait_for, which would otherwise see one expansion only).
yields() { local want=$1; shift; [ "$("$@")" == "$want" ]; }

# pod_logs NAMESPACE POD [ARGS...]: the container's log through the API server and the kubelet.
pod_logs() { k logs -n "$1" "${@:2}" --request-timeout=10s; }
