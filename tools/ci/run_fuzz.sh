#!/usr/bin/env bash
# run_fuzz.sh — builds the libFuzzer targets of tests/fuzz/ with clang++
# (-fsanitize=fuzzer,address,undefined), replays the committed seed corpus through each,
# then fuzzes each target for FUZZ_SECONDS seconds (default 30), starting from the corpus.
#
# Installs nothing (clang and libclang-rt-dev come from tools/install-deps.sh). Exits
# non-zero if a target fails to build, a corpus input fails, or fuzzing finds a crash, a
# hang (an input running over 10 s), a leak or an allocation over 512 MiB; the input that
# did it is kept under $FUZZ_BUILD_DIR/artifacts/. Prints one summary line per target.
#
# Environment: FUZZ_SECONDS (30), FUZZ_BUILD_DIR (build/fuzz), FUZZ_JOBS (build jobs, 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build/fuzz}
seconds=${FUZZ_SECONDS:-30}
targets=(fuzz_idx fuzz_safetensors fuzz_cli)
declare -A max_len=([fuzz_idx]=4096 [fuzz_safetensors]=16384 [fuzz_cli]=1024)
limits=(-malloc_limit_mb=512 -rss_limit_mb=2048 -timeout=10)

if ! command -v clang++ >/dev/null 2>&1; then
  echo "run_fuzz.sh: clang++ not found (tools/install-deps.sh installs clang and libclang-rt-dev)" >&2
  exit 2
fi

echo "== building ${targets[*]} in $build"
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DGAN_WITH_CUDA=OFF -DGAN_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j"${FUZZ_JOBS:-2}" --target "${targets[@]}"

artifacts=$build/artifacts
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=0
summary=()
for t in "${targets[@]}"; do
  corpus=$root/tests/fuzz/corpus/$t
  seeds=$(find "$corpus" -type f | wc -l)
  log=$work/$t.log

  echo "== $t: replaying $seeds corpus inputs"
  if ! "$build/$t" "${limits[@]}" -runs=0 -artifact_prefix="$artifacts/$t-" "$corpus" >"$log" 2>&1
  then
    tail -n 40 "$log"
    summary+=("$t: FAILED on the committed corpus (see above; input saved under $artifacts)")
    failed=1
    continue
  fi

  echo "== $t: fuzzing for ${seconds}s (max_len ${max_len[$t]})"
  mkdir -p "$work/$t"
  if ! "$build/$t" "${limits[@]}" -max_total_time="$seconds" -max_len="${max_len[$t]}" \
      -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$work/$t" "$corpus" >"$log" 2>&1
  then
    tail -n 60 "$log"
    summary+=("$t: FAILED while fuzzing (see above; input saved under $artifacts)")
    failed=1
    continue
  fi
  stat_of() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
  summary+=("$t: ok, $seeds seeds replayed, $(stat_of number_of_executed_units) inputs in \
$(stat_of average_exec_per_sec)/s for ${seconds}s, $(stat_of new_units_added) new units, \
peak rss $(stat_of peak_rss_mb) MiB, no crash")
done

echo "== fuzzing summary"
printf '  %s\n' "${summary[@]}"
exit "$failed"
