#!/usr/bin/env bash
# Installs what omed needs on Debian bookworm (only what is missing), then configures and builds.
# Sourced by deploy/local/run.sh and tests/run.sh; usable alone: deploy/local/bootstrap.sh [BUILD_DIR] [meson args]
set -euo pipefail

OMED_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Build toolchain and libraries.
OMED_BUILD_PKGS=(g++ meson ninja-build pkg-config libcaf-dev libboost-dev rapidjson-dev libyaml-cpp-dev
  libcurl4-openssl-dev catch2 libssl-dev libedit-dev)
# Outside programs the tests drive (promtool, a second Kubernetes client, peers for benchmarks,
# CBC for the packer's exact-solver comparison).
OMED_TEST_PKGS=(python3 python3-kubernetes prometheus curl ca-certificates coinor-cbc)
# Test tools from the npm registry, kept in the git-ignored .omed/npm: s3rver is the S3 server
# the [model-sources-s3] tests start (they skip loudly without it).
OMED_TEST_NPM=(s3rver@3.7.1)
OMED_NPM_PREFIX="$OMED_ROOT/.omed/npm"

# omed_install_npm NAME@VERSION...: installs what is missing, quietly; a failure only warns.
omed_install_npm() {
  if ! command -v npm >/dev/null; then
    # Only when there is no npm at all: an image with NodeSource's nodejs already bundles npm, and
    # Debian's npm package would conflict with it.
    omed_install nodejs npm || { echo "bootstrap: no npm; tests needing $* will skip" >&2; return 0; }
  fi
  local todo=() spec
  for spec in "$@"; do
    grep -qs "\"version\": \"${spec##*@}\"" "$OMED_NPM_PREFIX/node_modules/${spec%@*}/package.json" || todo+=("$spec")
  done
  [ ${#todo[@]} -eq 0 ] && return 0
  echo "bootstrap: npm installing ${todo[*]} into .omed/npm"
  mkdir -p "$OMED_NPM_PREFIX"
  npm install --prefix "$OMED_NPM_PREFIX" --no-audit --no-fund --loglevel=error "${todo[@]}" >/dev/null 2>&1 ||
    echo "bootstrap: npm install ${todo[*]} failed; tests needing it will skip" >&2
}

omed_missing_pkgs() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]:-}"
}

omed_install() {
  local missing
  # The npm test tools come with the test packages (tests/run.sh asks for both lists).
  if [[ " $* " == *" ${OMED_TEST_PKGS[0]} "* ]]; then omed_install_npm "${OMED_TEST_NPM[@]}"; fi
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
