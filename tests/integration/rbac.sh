#!/usr/bin/env bash
# Scenario 9: the operator runs with a ServiceAccount token bound to the least-privilege RBAC the
# Helm chart renders (every scenario does); here it does its whole job with it, and
# `kubectl auth can-i` shows what it cannot do, cluster-wide and in the chart's namespaced mode.
source "$(dirname "$0")/lib.sh"
start_sample_fleet 8 --leader-elect --leader-election-namespace pdscaler-system
wait_for 60 "Ready" condition_is deepseek-v31 Ready True/AsPlanned
wait_for 30 "SuccessfulRescale events written with the SA token" has_event SuccessfulRescale
grep -q 'from kubeconfig .*operator.kubeconfig' "$WORK/operator-a.log" || fail "operator did not use the SA kubeconfig"

sa=system:serviceaccount:pdscaler-system:pdscaler-operator
can() { k auth can-i --as "$sa" "$@" 2>/dev/null || true; }
assert_eq yes "$(can patch deployments.apps --subresource=scale -n default)" "can patch deployments/scale"
assert_eq yes "$(can patch pddeployments.pdscaler.io --subresource=status -n default)" "can patch pddeployments/status"
assert_eq yes "$(can create events -n default)" "can create events"
assert_eq yes "$(can list pods -n default)" "can list pods (start-up times, Pending pods)"
assert_eq yes "$(can watch pods -n default)" "can watch pods (the pod cache)"
assert_eq yes "$(can update leases.coordination.k8s.io/pdscaler-operator -n pdscaler-system)" "can update its Lease"
assert_eq no "$(can update leases.coordination.k8s.io/someone-else -n pdscaler-system)" "cannot update other Leases in its namespace"
assert_eq no "$(can get secrets -n default)" "cannot read Secrets"
assert_eq no "$(can get secrets -n pdscaler-system)" "cannot read Secrets in its own namespace"
assert_eq no "$(can patch deployments.apps -n default)" "cannot patch Deployments beyond /scale"
assert_eq no "$(can delete pods -n default)" "cannot delete pods"
assert_eq no "$(can patch pddeployments.pdscaler.io -n default)" "cannot edit PDDeployment specs"
assert_eq no "$(can update leases.coordination.k8s.io -n default)" "cannot touch Leases elsewhere"
assert_eq no "$(can create pods -n default)" "cannot create pods"

log "namespaced mode: rbac.namespaced=true, watchNamespace=team-a"
k create namespace team-a >/dev/null
helm template pdscaler-team-a "$ROOT/charts/pdscaler" --namespace pdscaler-system --kube-version 1.20.2 \
  --set rbac.namespaced=true --set watchNamespace=team-a \
  --show-only templates/serviceaccount.yaml --show-only templates/rbac.yaml | k apply -f - >/dev/null
nsa=system:serviceaccount:pdscaler-system:pdscaler-team-a
assert_eq yes "$(k auth can-i --as "$nsa" patch deployments.apps --subresource=scale -n team-a 2>/dev/null || true)" "namespaced: can scale in team-a"
assert_eq no "$(k auth can-i --as "$nsa" patch deployments.apps --subresource=scale -n default 2>/dev/null || true)" "namespaced: cannot scale elsewhere"
assert_eq no "$(k auth can-i --as "$nsa" list pddeployments.pdscaler.io --all-namespaces 2>/dev/null || true)" "namespaced: cannot list cluster-wide"
log "PASS"
