#!/usr/bin/env bash
# Prints the Debian packages that provide the shared libraries the given binaries load, one per
# line: the Dockerfile's runtime stage installs exactly these, so it cannot drift from the build.
set -euo pipefail
for lib in $(ldd "$@" | awk '/=> \//{print $3}' | sort -u); do
  real=$(readlink -f "$lib")
  dpkg -S "$real" 2>/dev/null || dpkg -S "/usr$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || true
done | cut -d: -f1 | sort -u
