#!/usr/bin/env bash
# Prometheus behind HTTPS and a bearer token (as behind kube-rbac-proxy): the PDDeployment names a
# token Secret and a CA Secret, the chart's RBAC grants `get` on exactly those names, and the
# operator measures through them. A wrong token is MetricsAvailable=False with the 401, replicas
# held; the corrected Secret is picked up at the next evaluation.
source "$(dirname "$0")/lib.sh"
cluster_up 8 8
operator_up a
gpu_deployment dsv31-prefill 8
gpu_deployment dsv31-decode 8
emulator_up --schedule "0:2e6"
prometheus_up

# A CA, and a certificate for 127.0.0.1 signed by it.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.crt" -days 1 -subj "/CN=test-ca" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$WORK/prom.key" -out "$WORK/prom.csr" -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$WORK/san.ext"
openssl x509 -req -in "$WORK/prom.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -CAcreateserial -days 1 \
  -extfile "$WORK/san.ext" -out "$WORK/prom.crt" 2>/dev/null
openssl rand -hex 20 >"$WORK/token"
PROXY_PORT=$(free_port)
start auth-proxy python3 "$ROOT/tests/cluster/auth_proxy.py" --port "$PROXY_PORT" --upstream "http://127.0.0.1:$PROM_PORT" \
  --token-file "$WORK/token" --cert "$WORK/prom.crt" --key "$WORK/prom.key" --stats "$WORK/proxy.stats"
wait_for 20 "proxy up" curl -s --cacert "$WORK/ca.crt" -o /dev/null "https://127.0.0.1:$PROXY_PORT/"

k create secret generic prom-token --from-file=token="$WORK/token" >/dev/null
k create secret generic prom-ca --from-file=ca.crt="$WORK/ca.crt" >/dev/null
helm_template --set 'rbac.secretNames={prom-token,prom-ca}' --show-only templates/rbac.yaml | k apply -f - >/dev/null
sa=system:serviceaccount:pdscaler-system:pdscaler-operator
assert_eq yes "$(k auth can-i --as "$sa" get secrets/prom-token -n default 2>/dev/null || true)" "can get the named token Secret"
assert_eq no "$(k auth can-i --as "$sa" get secrets/other -n default 2>/dev/null || true)" "cannot get other Secrets"
assert_eq no "$(k auth can-i --as "$sa" list secrets -n default 2>/dev/null || true)" "cannot list Secrets"

sed "s|  scaling: {rounding: Ceil}|  scaling: {rounding: Ceil}\n  metrics: {prometheus: {url: \"https://127.0.0.1:$PROXY_PORT\", bearerTokenSecret: {name: prom-token, key: token}, caSecret: {name: prom-ca, key: ca.crt}}, prefillSelector: 'job=\"prefill\"', decodeSelector: 'job=\"decode\"', window: 20s, evaluationInterval: 5s, scaleDownWindow: 30s}|" \
  "$ROOT/crds/examples/deepseek-v31-h200.yaml" | k apply -f - >/dev/null
wait_for 60 "MetricsAvailable through TLS and the token" condition_is deepseek-v31 MetricsAvailable True/Queried
fleet_is() { [ "$(replicas_of dsv31-prefill)P$(replicas_of dsv31-decode)D" == "$1" ]; }
wait_for 60 "2P2D at 2 M tokens/min" fleet_is 2P2D
log "through the proxy: $(cat "$WORK/proxy.stats")"

log "the proxy now wants another token"
openssl rand -hex 20 >"$WORK/token"
wait_for 30 "MetricsAvailable=False" condition_is deepseek-v31 MetricsAvailable False/FailedGetMetrics
msg=$(k get pdd deepseek-v31 -o jsonpath='{.status.conditions[?(@.type=="MetricsAvailable")].message}')
grep -q "HTTP 401: not a Prometheus answer: Unauthorized" <<<"$msg" || fail "the 401 is not in the condition: $msg"
log "MetricsAvailable: $msg"
assert_eq 2P2D "$(replicas_of dsv31-prefill)P$(replicas_of dsv31-decode)D" "replicas held on a refused token"

log "the Secret is updated with the new token"
k create secret generic prom-token --from-file=token="$WORK/token" --dry-run=client -o yaml | k replace -f - >/dev/null
wait_for 30 "MetricsAvailable again" condition_is deepseek-v31 MetricsAvailable True/Queried
log "through the proxy: $(cat "$WORK/proxy.stats")"
log "PASS"
