#!/usr/bin/env bash
# run_asan.sh — builds the CUDA-free core, the CPU backend, the app and the CPU test suite
# under AddressSanitizer + UndefinedBehaviorSanitizer (CMake preset `asan`, build/asan) and
# runs the suite, including the end-to-end tests that start the sanitized binary.
#
# Installs nothing. Any sanitizer report aborts the process that made it, so it fails its
# test; the script exits non-zero if the build or any test fails, and prints a summary.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

start=$(date +%s)
cmake --preset asan
cmake --build --preset asan
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
ctest --preset asan 2>&1 | tee "$log" || status=$?
elapsed=$(( $(date +%s) - start ))

echo "== sanitizer summary (ASan + UBSan, build/asan, ${elapsed}s including the build)"
grep -E "tests passed|tests failed" "$log" | tail -n 1 | sed 's/^/  /' || true
if [ "$status" -ne 0 ]; then
  echo "  failed tests:"
  sed -n '/The following tests FAILED/,$p' "$log" | tail -n +2 | sed 's/^/  /'
fi
exit "$status"
