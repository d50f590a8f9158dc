#!/usr/bin/env bash
# Installs what is missing, builds, and runs every omed test. Prints "N passed, N failed".
#   tests/run.sh              the default build (debugoptimized) and all default suites
#   tests/run.sh --sanitize   the same tests in an ASan+UBSan build (build-asan/)
#   tests/run.sh --suite bench   the benchmarks (not part of the default run)
set -euo pipefail
source "$(dirname "$0")/../deploy/local/bootstrap.sh"
cd "$OMED_ROOT"

build=build
setup_args=()
test_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) build=build-asan; setup_args+=(-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug); shift ;;
    --suite) test_args+=(--suite "$2"); shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) test_args+=("$1"); shift ;;
  esac
done
if [ ${#test_args[@]} -eq 0 ]; then
  test_args=(--no-suite bench)
fi

omed_install "${OMED_BUILD_PKGS[@]}" "${OMED_TEST_PKGS[@]}"
omed_build "$build" "${setup_args[@]}"

rc=0
meson test -C "$build" --print-errorlogs "${test_args[@]}" || rc=$?
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
ok = fail = skip = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r == "SKIP":
        skip += 1
    else:
        fail += 1
print(f"{ok} passed, {fail} failed" + (f", {skip} skipped" if skip else ""))
PY
exit $rc
