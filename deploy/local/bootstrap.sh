#!/usr/bin/env bash
# Installs what omed needs on Debian bookworm (only what is missing), then configures and builds.
# Sourced by deploy/local/run.sh and tests/run.sh; usable alone: deploy/local/bootstrap.sh [BUILD_DIR] [meson args]
set -euo pipefail

OMED_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Build toolchain and libraries.
OMED_BUILD_PKGS=(g++ meson ninja-build pkg-config libcaf-dev libboost-dev rapidjson-dev libyaml-cpp-dev
  libcurl4-openssl-dev catch2 libssl-dev libedit-dev)
# Outside programs the tests drive (promtool, a second Kubernetes client, peers for benchmarks).
OMED_TEST_PKGS=(python3 python3-kubernetes prometheus curl ca-certificates)

omed_missing_pkgs() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]:-}"
}

omed_install() {
  local missing
  missing="$(omed_missing_pkgs "$@")"
  [ -z "$missing" ] && return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "bootstrap: need root (or sudo) to install: $missing" >&2; return 1; }
    sudo="sudo"
  fi
  echo "bootstrap: installing $missing"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# omed_build BUILD_DIR [meson setup args...]: configure once, then build incrementally.
omed_build() {
  local dir="$1"; shift
  if [ ! -f "$OMED_ROOT/$dir/build.ninja" ]; then
    meson setup "$OMED_ROOT/$dir" "$OMED_ROOT" "$@" >/dev/null
  fi
  ninja -C "$OMED_ROOT/$dir"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  omed_install "${OMED_BUILD_PKGS[@]}"
  omed_build "${1:-build}" "${@:2}"
fi
