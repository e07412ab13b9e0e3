#!/usr/bin/env bash
# Builds the real-node tier's images without a Docker daemon or a registry (buildah, rootful,
# cgroupfs) and writes each as a docker-archive the node's containerd imports:
#   base     Debian bookworm minbase from debootstrap, tagged docker.io/library/debian:bookworm and
#            :bookworm-slim so the Dockerfile's FROM lines resolve locally, unchanged
#   pause    the sandbox image: the static pause binary build-kube.sh made from the Kubernetes source
#   operator the project's Dockerfile, as it is, on that base (the whole build and unit tier inside)
#   engine   base + python3 + the vLLM-shaped engine emulator (tests/real/engine.Containerfile)
# Cached under ~/.cache/pdscaler/images, keyed by the content of their inputs, so a rerun on an
# unchanged tree only re-exports. Prints NAME=ARCHIVE IMAGE lines, one per image, last.
#
#   tests/real/images.sh [base|pause|operator|engine ...]     # default: base, pause, operator
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${PDSCALER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pdscaler}
store="$cache/buildah"
out="$cache/images"
mkdir -p "$store/root" "$store/runroot" "$out"
log() { echo "[images $(date +%H:%M:%S)] $*" >&2; }

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# buildah with its own storage; cgroupfs because nothing here runs systemd.
export CONTAINERS_CONF="$store/containers.conf"
printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >"$CONTAINERS_CONF"
bh() { buildah --root "$store/root" --runroot "$store/runroot" --storage-driver overlay "$@"; }
have() { bh inspect --type image "$1" >/dev/null 2>&1; }

# key FILES...: a short hash of the named files' contents (and names).
key() { (cd "$ROOT" && sha256sum "$@" | sha256sum | cut -c1-12); }

archive() {  # archive NAME IMAGE: docker-archive of IMAGE at $out/NAME-<tag>.tar, once
  local f="$out/$1-${2##*:}.tar"
  if [ ! -s "$f" ]; then
    rm -f "$f"
    bh push "$2" "docker-archive:$f:$2" >/dev/null
  fi
  echo "$1=$f $2"
}

build_base() {
  local img=docker.io/library/debian:bookworm
  if ! have "$img"; then
    log "base: debootstrap --variant=minbase bookworm from $mirror (about 30 s)"
    local tmp; tmp=$(mktemp -d /tmp/pdscaler-rootfs.XXXXXX)
    debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
      { tail -20 "$tmp/debootstrap.log" >&2; rm -rf "$tmp"; exit 1; }
    rm -rf "$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/var/lib/apt/lists/"*
    tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
    local ctr; ctr=$(bh from scratch)
    bh add "$ctr" "$tmp/rootfs.tar" / >/dev/null
    bh config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
    bh commit --quiet "$ctr" "$img" >/dev/null
    bh rm "$ctr" >/dev/null
    rm -rf "$tmp"
  fi
  bh tag "$img" docker.io/library/debian:bookworm-slim
  archive base "$img"
}

build_pause() {
  local KUBE_BIN; KUBE_BIN=$("$ROOT/tests/cluster/build-kube.sh" node | tail -1)
  local img="localhost/pdscaler/pause:$(sha256sum "$KUBE_BIN/pause" | cut -c1-12)"
  if ! have "$img"; then
    log "pause: the static pause binary as an image"
    local ctr; ctr=$(bh from scratch)
    bh copy "$ctr" "$KUBE_BIN/pause" /pause >/dev/null
    bh config --entrypoint '["/pause"]' --user 65535:65535 "$ctr"
    bh commit --quiet "$ctr" "$img" >/dev/null
    bh rm "$ctr" >/dev/null
  fi
  archive pause "$img"
}

build_operator() {
  # Every tracked file the build context holds (.dockerignore keeps tests/real and build trees out).
  local files; mapfile -t files < <(cd "$ROOT" && git ls-files -co --exclude-standard | grep -v '^tests/real/' | sort)
  local img="localhost/pdscaler/pdscaler-operator:$(key "${files[@]}")"
  # Iterating on the tier's own scripts: REUSE_OPERATOR_IMAGE=1 takes the newest one built.
  if [ "${REUSE_OPERATOR_IMAGE:-0}" = 1 ] && ! have "$img"; then
    local newest; newest=$(bh images --format '{{.Name}}:{{.Tag}} {{.CreatedAtRaw}}' 2>/dev/null |
      awk '$1 ~ /pdscaler-operator:/' | sort -k2 | tail -1 | cut -d' ' -f1)
    [ -n "$newest" ] && { log "operator: reusing $newest (REUSE_OPERATOR_IMAGE=1)"; img=$newest; }
  fi
  if ! have "$img"; then
    log "operator: buildah bud of the Dockerfile as it is (the project's build and unit tier inside; minutes)"
    local t0=$SECONDS
    bh bud --pull=never --network host --layers --isolation chroot -f "$ROOT/Dockerfile" -t "$img" "$ROOT" \
      >"$out/operator-build.log" 2>&1 || { tail -40 "$out/operator-build.log" >&2; exit 1; }
    log "operator: built in $((SECONDS - t0)) s"
  fi
  archive operator "$img"
}

build_engine() {
  local img="localhost/pdscaler/engine-emulator:$(key tests/real/engine.Containerfile tests/cluster/vllm_emulator.py tests/cluster/vllm_engine.py)"
  if ! have "$img"; then
    log "engine: base + python3 + the emulator"
    bh bud --pull=never --network host --layers --isolation chroot -f "$ROOT/tests/real/engine.Containerfile" \
      -t "$img" "$ROOT/tests/cluster" >"$out/engine-build.log" 2>&1 || { tail -40 "$out/engine-build.log" >&2; exit 1; }
  fi
  archive engine "$img"
}

lines=()
for what in ${*:-base pause operator}; do
  case "$what" in
    base) lines+=("$(build_base)") ;;
    pause) lines+=("$(build_pause)") ;;
    operator) build_base >/dev/null; lines+=("$(build_operator)") ;;
    engine) build_base >/dev/null; lines+=("$(build_engine)") ;;
    *) echo "unknown image: $what (base, pause, operator, engine)" >&2; exit 2 ;;
  esac
done
printf '%s\n' "${lines[@]}"
