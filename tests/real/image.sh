#!/usr/bin/env bash
# The image as users get it: built from the Dockerfile as it is (buildah, on a base made here),
# imported into a real node's containerd and run as a pod the way the chart runs it — non-root
# (65532), read-only root filesystem, no capabilities. `pdscaler-operator --help` and
# `pdscaler plan` of a sample (mounted from a ConfigMap) must work inside it. Prints the image's
# size.
source "$(dirname "$0")/lib_node.sh"

cluster_up 0 8
real_node_up 8
import_images operator
ref=${IMAGES[operator]}
size_mb=$(( $(stat -c %s "${IMAGE_FILES[operator]}") / 1024 / 1024 ))
log "operator image $ref: $size_mb MiB as an uncompressed archive"

k create configmap samples --from-file="$ROOT/crds/examples/deepseek-v31-h200.yaml" >/dev/null
k apply -f - >/dev/null <<POD
apiVersion: v1
kind: Pod
metadata: {name: image-check}
spec:
  restartPolicy: Never
$(real_node_placement 2)
  securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532}
  volumes: [{name: samples, configMap: {name: samples}}]
  containers:
    - name: help
      image: $ref
      imagePullPolicy: Never
      args: ["--help"]
      securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    - name: plan
      image: $ref
      imagePullPolicy: Never
      command: ["/usr/local/bin/pdscaler", "plan", "-f", "/samples/deepseek-v31-h200.yaml"]
      securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
      volumeMounts: [{name: samples, mountPath: /samples, readOnly: true}]
POD
phase() { k get pod image-check -o jsonpath='{.status.phase}'; }
finished() { [[ "$(phase)" =~ ^(Succeeded|Failed)$ ]]; }
wait_for 120 "image-check pod finished" finished
help=$(pod_logs default image-check -c help)
plan=$(pod_logs default image-check -c plan)
assert_eq Succeeded "$(phase)" "image-check pod phase (both containers exited 0)"
grep -q -- "--kubeconfig" <<<"$help" || fail "pdscaler-operator --help printed no --kubeconfig option: $help"
log "ok: pdscaler-operator --help inside the image ($(wc -l <<<"$help") lines)"
grep -Eq "plan +4P4D" <<<"$plan" || fail "pdscaler plan inside the image did not give the sample's 4P4D: $plan"
log "ok: pdscaler plan inside the image: $(grep -E 'plan +4P4D' <<<"$plan" | sed 's/^ *//')"
uid=$(k get pod image-check -o jsonpath='{.spec.securityContext.runAsUser}')
assert_eq 65532 "$uid" "containers ran as"
log "PASS (image $size_mb MiB)"
