#!/usr/bin/env bash
# Installed as users install it: `helm install` of charts/pdscaler (its CRD, ServiceAccount, RBAC,
# PDB, 2 replicas with leader election, probes) with the image built from the Dockerfile, onto a
# real kubelet + containerd node; the fleets it sizes are Deployments on fake GPU nodes. The
# operator pods reach the API server through the `kubernetes` Service with in-cluster config
# (the mounted token and CA), as in production. Checks:
#   both pods Ready through their real /readyz probes; exactly one leads (the Lease's holder);
#   the leader sizes the sample (4P4D) and follows an edit;
#   `kubectl delete pod` of the leader: the other takes over and keeps sizing;
#   `helm upgrade` with a changed value rolls the pods, and at no sample did two pods lead at once
#   (each pod's pdscaler_leader gauge, scraped at its pod IP every 0.5 s); no count the plans did
#   not ask for was ever written (every spec.replicas value the API server held, recorded);
#   `helm uninstall` leaves the CRD and the PDDeployments.
CLUSTER_CRD=0
source "$(dirname "$0")/lib_node.sh"

cluster_up 8 8
real_node_up 8
import_images operator
ref=${IMAGES[operator]}
ns=pdscaler-system
cat >"$WORK/values.yaml" <<VALUES
image: {repository: "${ref%:*}", tag: "${ref##*:}", pullPolicy: Never}
replicaCount: 2
logFormat: text
logLevel: debug
resyncPeriodSeconds: 30
nodeSelector: {pdscaler.io/real-node: "true"}
tolerations: [{key: pdscaler.io/real-node, operator: Exists, effect: NoSchedule}]
VALUES

start recorder python3 "$ROOT/tests/faults/replica_recorder.py" --server "https://127.0.0.1:$API_PORT" \
  --token "$ADMIN_TOKEN" --namespace default --out "$WORK/replicas.jsonl"

t0=$SECONDS
helm --kubeconfig "$WORK/admin.kubeconfig" install pdscaler "$ROOT/charts/pdscaler" -n "$ns" --create-namespace \
  -f "$WORK/values.yaml" --wait --timeout 180s >"$WORK/helm-install.log" 2>&1 || { cat "$WORK/helm-install.log" >&2; fail "helm install"; }
log "ok: helm install --wait returned after $((SECONDS - t0)) s"
sel=app.kubernetes.io/name=pdscaler,app.kubernetes.io/instance=pdscaler
operator_pod_logs() {
  local p name ip
  k -n "$ns" get pods -o wide 2>&1
  while read -r name ip _; do
    echo "--- $name: /readyz at $ip from the host: $(curl -s -m 2 "http://$ip:8081/readyz" 2>&1 || echo unreachable)"
    pod_logs "$ns" "$name" --tail=25 2>&1 | grep -v 'reconciling generation\|status written'
  done < <(pods)
}
ON_FAIL+=(operator_pod_logs)
pods() { k -n "$ns" get pods -l "$sel" -o jsonpath='{range .items[*]}{.metadata.name} {.status.podIP} {.metadata.deletionTimestamp}{"\n"}{end}'; }
ready_pods() { k -n "$ns" get pods -l "$sel" -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '=True$' || true; }
wait_for 120 "both operator pods Ready" yields 2 ready_pods
assert_eq 2 "$(ready_pods)" "operator pods Ready through /readyz"
k wait --for condition=established --timeout=30s crd/pddeployments.pdscaler.io >/dev/null
log "ok: the chart installed the CRD"

# The Lease holder's pod: identities are HOSTNAME_RANDOM, and a pod's hostname is its name.
holder() { local h; h=$(k -n "$ns" get lease pdscaler -o jsonpath='{.spec.holderIdentity}' 2>/dev/null); echo "${h%_*}"; }
leading() { local h; h=$(holder); [ -n "$h" ] && pods | grep -q "^$h "; }
wait_for 60 "a pod holds the Lease" leading
leader=$(holder)
log "ok: $leader leads"

# Each pod's pdscaler_leader gauge, read at its pod IP from here (the host routes to the pod
# network), one pod after another, ~0.2 s between rounds: a line "START END POD VALUE" per read.
# A round is not a snapshot (a read takes up to 0.3 s), so two leaders are proven only by
# overlap: a pod read as leader while another was leader throughout (between the end of that
# one's first read as leader and the start of its last one, with no read of 0 in between).
sample_leaders() {
  while :; do
    local name ip _rest v t0
    while read -r name ip _rest; do
      [ -n "$ip" ] || continue
      t0=$(date +%s.%N)
      v=$(curl -s --max-time 0.3 "http://$ip:8080/metrics" | awk '$1 == "pdscaler_leader" {print $2}' || true)
      [ -n "$v" ] && echo "$t0 $(date +%s.%N) $name ${v%.*}"
    done < <(pods)
    sleep 0.2
  done
}
start leaders sample_leaders
leaders_at_most_one() {
  python3 - "$WORK/leaders.log" <<'PY'
import sys, collections
reads = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 4: reads[f[2]].append((float(f[0]), float(f[1]), int(f[3])))
spans = []  # (pod, from, to): certainly the leader throughout
for pod, rs in reads.items():
    rs.sort(); run = []
    for r in rs + [(0, 0, 0)]:
        if r[2] == 1: run.append(r); continue
        if len(run) >= 2 and run[0][1] < run[-1][0]: spans.append((pod, run[0][1], run[-1][0]))
        run = []
bad = [(pod, s, e, other, a) for pod, s, e in spans for other, rs in reads.items() if other != pod
       for a, b, v in rs if v == 1 and s <= a and b <= e]
for b in bad[:3]: print("%s led from %.3f to %.3f; %s read as leader at %.3f" % b)
sys.exit(1 if bad else 0)
PY
}

gpu_deployment dsv31-prefill 8
gpu_deployment dsv31-decode 8
k apply -f "$ROOT/crds/examples/deepseek-v31-h200.yaml" >/dev/null
wait_for 60 "prefill sized to 4 by the in-pod operator" replicas_are dsv31-prefill 4
wait_for 60 "decode sized to 4" replicas_are dsv31-decode 4
log "ok: the sample sized to 4P4D from inside the cluster"
k patch pdd deepseek-v31 --type merge -p '{"spec":{"workload":{"tokensPerMinute":8000000}}}' >/dev/null
wait_for 60 "prefill rescaled to 5" replicas_are dsv31-prefill 5
wait_for 60 "decode rescaled to 7" replicas_are dsv31-decode 7
log "ok: the edit rescaled to 5P7D"

# The leader's pod deleted as an SRE would: the other takes over and keeps sizing.
t0=$SECONDS
k -n "$ns" delete pod "$leader" --wait=false >/dev/null
took_over() { local h; h=$(holder); [ -n "$h" ] && [ "$h" != "$leader" ] && pods | grep -q "^$h "; }
wait_for 90 "another pod takes the Lease" took_over
new_leader=$(holder)
log "ok: $new_leader took over $((SECONDS - t0)) s after the delete"
k patch pdd deepseek-v31 --type merge -p '{"spec":{"workload":{"tokensPerMinute":2000000}}}' >/dev/null
wait_for 60 "new leader sizes: prefill to 2" replicas_are dsv31-prefill 2
wait_for 60 "new leader sizes: decode to 2" replicas_are dsv31-decode 2
log "ok: the new leader rescaled to 2P2D"
wait_for 120 "the Deployment back at 2 Ready pods" yields 2 ready_pods

# helm upgrade with a changed value: the pods roll (maxSurge: a third pod meanwhile), one leader at a time.
old_pods=$(pods | awk '{print $1}' | sort | tr '\n' ' ')
t0=$SECONDS
helm --kubeconfig "$WORK/admin.kubeconfig" upgrade pdscaler "$ROOT/charts/pdscaler" -n "$ns" -f "$WORK/values.yaml" \
  --set resyncPeriodSeconds=45 --wait --timeout 180s >"$WORK/helm-upgrade.log" 2>&1 || { cat "$WORK/helm-upgrade.log" >&2; fail "helm upgrade"; }
rolled() {
  local now; now=$(pods | awk '$3 == "" {print $1}' | sort)
  [ "$(wc -l <<<"$now")" = 2 ] && ! grep -qwF -f <(tr ' ' '\n' <<<"$old_pods" | sed '/^$/d') <<<"$now" &&
    [ "$(ready_pods)" = 2 ]
}
wait_for 120 "pods rolled to the new values" rolled
args=$(k -n "$ns" get deployment pdscaler -o jsonpath='{.spec.template.spec.containers[0].args}')
grep -q -- "--resync-period=45" <<<"$args" || fail "the upgraded Deployment lacks --resync-period=45: $args"
log "ok: helm upgrade rolled both pods in $((SECONDS - t0)) s ($old_pods-> $(pods | awk '$3 == "" {print $1}' | tr '\n' ' '))"
wait_for 60 "a new pod leads" leading
k patch pdd deepseek-v31 --type merge -p '{"spec":{"workload":{"tokensPerMinute":5000000}}}' >/dev/null
wait_for 60 "after the upgrade: prefill back to 4" replicas_are dsv31-prefill 4
wait_for 60 "after the upgrade: decode back to 4" replicas_are dsv31-decode 4
log "ok: $(holder) leads after the upgrade and sized 4P4D"
sleep 5
stop_pid "$PID_leaders"
samples=$(wc -l <"$WORK/leaders.log")
led=$(awk '$4 == 1' "$WORK/leaders.log" | wc -l)
[ "$samples" -ge 10 ] && [ "$led" -ge 5 ] || fail "only $samples reads of pdscaler_leader, $led of a leader"
overlap=$(leaders_at_most_one) || fail "two pods led at once: $overlap"
log "ok: never two leaders at once in $samples reads of every pod's pdscaler_leader ($led as leader)"

# Every spec.replicas value the API server held: only counts some plan asked for.
stop_pid "$PID_recorder"
bad=$(python3 - "$WORK/replicas.jsonl" <<'PY'
import json, sys
allowed = {"dsv31-prefill": {1, 4, 5, 2}, "dsv31-decode": {1, 4, 7, 2}}
bad = [r for r in map(json.loads, open(sys.argv[1])) if r["replicas"] not in allowed.get(r["name"], set())]
print(len(bad), bad[:3])
PY
)
assert_eq 0 "${bad%% *}" "spec.replicas values no plan asked for (${bad#* })"

helm --kubeconfig "$WORK/admin.kubeconfig" uninstall pdscaler -n "$ns" --wait --timeout 120s >/dev/null
wait_for 90 "operator pods gone" yields "" pods
k get crd pddeployments.pdscaler.io >/dev/null || fail "helm uninstall removed the CRD"
k get pdd deepseek-v31 >/dev/null || fail "helm uninstall removed the PDDeployment"
log "ok: helm uninstall left the CRD and the PDDeployment"
log "PASS"
