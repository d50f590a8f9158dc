#!/usr/bin/env bash
# Installs what is missing, builds, and starts omed standalone on this machine (loopback only).
# Ctrl-C stops it cleanly. Extra arguments go to `omed standalone`.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
cd "$OMED_ROOT"
omed_install "${OMED_BUILD_PKGS[@]}"
omed_build build

data_dir="$OMED_ROOT/.omed"
mkdir -p "$data_dir"
rm -f "$data_dir/http.port"
echo "omed: starting standalone (logs below; Ctrl-C to stop)"
build/actors/omed standalone --http-addr 127.0.0.1:0 --port-file "$data_dir/http.port" "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' INT TERM
for _ in $(seq 100); do [ -s "$data_dir/http.port" ] && break; sleep 0.1; done
if [ -s "$data_dir/http.port" ]; then
  port=$(cat "$data_dir/http.port")
  cat <<MSG

omed is running.
  metrics:    curl -s http://127.0.0.1:$port/metrics | grep ^omed_
  readiness:  curl -s 'http://127.0.0.1:$port/readyz?verbose'
  validate:   build/actors/omed validate -f deploy/samples/isvc/llama-3-2-1b-instruct.yaml
  GPU nodes:  kubectl --kubeconfig $data_dir/kubeconfig get nodes -L nvidia.com/gpu.product,nvidia.com/gpu.count

MSG
fi
wait $pid
