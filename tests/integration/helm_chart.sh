#!/usr/bin/env bash
# The Helm chart, for real: helm lint; values.schema.json refusing bad values; helm template with
# default and non-default values applied with `kubectl apply --dry-run=server` to the real API
# server; the rendered Deployment's security settings; the CRD the chart ships.
source "$(dirname "$0")/lib.sh"
chart="$ROOT/charts/pdscaler"
nondefault="$ROOT/tests/integration/values-nondefault.yaml"

helm lint "$chart" >/dev/null || fail "helm lint (defaults)"
helm lint "$chart" -f "$nondefault" >/dev/null || fail "helm lint (non-default values)"
log "ok: helm lint, default and non-default values"

refuses() {  # refuses DESCRIPTION EXPECTED-IN-ERROR HELM-ARGS...
  local what=$1 expect=$2; shift 2
  local out
  if out=$(helm template x "$chart" "$@" 2>&1); then fail "$what: accepted"; fi
  grep -qF "$expect" <<<"$out" || fail "$what: error does not mention '$expect': $out"
  log "ok: refuses $what"
}
refuses "replicaCount 0" "replicaCount" --set replicaCount=0
refuses "unknown logFormat" "logFormat" --set logFormat=xml
refuses "a misspelt value" "replicaCout" --set replicaCout=2
refuses "namespaced RBAC without a namespace" "rbac.namespaced needs watchNamespace" --set rbac.namespaced=true
refuses "ServiceMonitor without the Service" "serviceMonitor.enabled needs metrics.service.enabled" \
  --set serviceMonitor.enabled=true --set metrics.service.enabled=false

cluster_up 1 8
k create namespace pdscaler-system >/dev/null
k create namespace team-a >/dev/null
# prometheus-operator's ServiceMonitor CRD, reduced to what a dry run needs to accept the object.
k apply -f - >/dev/null <<'CRD'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, plural: servicemonitors, singular: servicemonitor, listKind: ServiceMonitorList}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
CRD
wait_for 30 "ServiceMonitor CRD" k wait --for condition=established --timeout=1s crd/servicemonitors.monitoring.coreos.com

helm_template --include-crds >"$WORK/default.yaml"
k apply --dry-run=server -f "$WORK/default.yaml" >"$WORK/default.out" || fail "default values: rejected by the API server"
log "ok: default values accepted by the API server: $(wc -l <"$WORK/default.out" | tr -d ' ') objects"
helm_template -f "$nondefault" >"$WORK/nondefault.yaml"
k apply --dry-run=server -f "$WORK/nondefault.yaml" >"$WORK/nondefault.out" || fail "non-default values: rejected by the API server"
log "ok: non-default values accepted by the API server: $(wc -l <"$WORK/nondefault.out" | tr -d ' ') objects"
grep -q 'servicemonitor.monitoring.coreos.com/pdscaler-operator' "$WORK/nondefault.out" || fail "ServiceMonitor rendered"
grep -q 'role.rbac.authorization.k8s.io/pdscaler-operator' "$WORK/nondefault.out" || fail "namespaced Role rendered"
grep -q 'clusterrole' "$WORK/nondefault.out" && fail "namespaced mode must not render cluster-wide RBAC"

dep=$(k apply --dry-run=server -f "$WORK/default.yaml" -o json | jq '.items[] | select(.kind=="Deployment")')
q() { jq -r "$1" <<<"$dep"; }
assert_eq 2 "$(q .spec.replicas)" "replicas"
assert_eq true "$(q .spec.template.spec.securityContext.runAsNonRoot)" "runAsNonRoot"
assert_eq RuntimeDefault "$(q .spec.template.spec.securityContext.seccompProfile.type)" "seccomp profile"
assert_eq true "$(q '.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem')" "read-only root filesystem"
assert_eq false "$(q '.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation')" "no privilege escalation"
assert_eq ALL "$(q '.spec.template.spec.containers[0].securityContext.capabilities.drop[0]')" "capabilities dropped"
assert_eq /healthz "$(q '.spec.template.spec.containers[0].livenessProbe.httpGet.path')" "liveness probe"
assert_eq /readyz "$(q '.spec.template.spec.containers[0].readinessProbe.httpGet.path')" "readiness probe"
q '.spec.template.spec.containers[0].args[]' | grep -qx -- '--leader-elect' || fail "leader election on"
q '.spec.template.spec.containers[0].args[]' | grep -qx -- '--leader-election-id=pdscaler-operator' || fail "lease name = the Role's resourceName"

# The operator's own flags accept what the chart passes (no typo between chart and binary).
args=$(q '.spec.template.spec.containers[0].args | join(" ")')
"$BUILD/bin/pdscaler-operator" --help >"$WORK/help.txt"
for flag in $(tr ' ' '\n' <<<"$args" | sed 's/=.*//'); do
  grep -q -- "$flag" "$WORK/help.txt" || fail "the chart passes $flag, which pdscaler-operator does not know"
done
log "ok: every flag the chart passes is one pdscaler-operator takes: $args"

cmp -s "$ROOT/crds/pdscaler.io_pddeployments.yaml" "$ROOT/charts/pdscaler/crds/pdscaler.io_pddeployments.yaml" \
  || fail "charts/pdscaler/crds is not a copy of crds/"
log "PASS"
