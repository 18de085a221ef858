#!/usr/bin/env bash
# checks.sh — everything only a GPU can show, in one run on the GPU machine:
#   1. build the release preset (dependencies from .deps/ where the machine lacks them);
#   2. the GPU test suite with REQUIRE_GPU=1 (a missing device is a failure);
#   3. compute-sanitizer memcheck, racecheck, initcheck and synccheck over the op tests and a
#      short training run;
#   4. gan_cuda --epochs 50 on the bundled data (graph mode), timed.
# Logs go to gpu-logs/; where $OUT is set (the device tool's return folder) it receives four
# files: summary.txt, logs.tgz, the last sample grid and the 50-epoch metrics.
# Record the summary under docs/gpu-runs/.
# Steps are selected with STEPS (default "build tests sanitize train50").
set -uo pipefail
cd "$(dirname "$0")/../.."
. tools/gpu/env.sh
out=gpu-logs
rm -rf "$out" && mkdir -p "$out"
steps=${STEPS:-build tests sanitize train50}
summary="$out/summary.txt"
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }
B=build/release
note "date: $(date -u +%FT%TZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
note "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"

if [[ " $steps " == *" build "* ]]; then
  t0=$SECONDS
  if cmake --preset release $GAN_CMAKE_ARGS >"$out/configure.log" 2>&1 &&
     cmake --build --preset release -j16 >"$out/build.log" 2>&1; then
    note "build: ok ($((SECONDS - t0)) s)"
  else
    note "build: FAILED"; tail -40 "$out/build.log" "$out/configure.log"; exit 1
  fi
fi

if [[ " $steps " == *" tests "* ]]; then
  REQUIRE_GPU=1 $B/gan_gpu_tests >"$out/gpu_tests.log" 2>&1
  rc=$?
  note "gpu tests: rc=$rc; $(grep -E '^\[doctest\] (test cases|assertions)' "$out/gpu_tests.log" | tr '\n' ' ')"
  (cd build/release && ctest -j8 --output-on-failure >"../../$out/ctest.log" 2>&1)
  note "ctest (CPU suite + GPU binary): $(grep -E 'tests passed|tests failed' "$out/ctest.log")"
fi

if [[ " $steps " == *" sanitize "* ]]; then
  ops='cuda dense_forward*,cuda dense_backward*,cuda d_head*,cuda adam*,cuda shuffle*,cuda gather*,cuda noise*,cuda check_finite*,cuda graphs: one*'
  for tool in memcheck racecheck initcheck synccheck; do
    compute-sanitizer --tool "$tool" --error-exitcode 99 --print-limit 20 \
      $B/gan_gpu_tests -tc="$ops" >"$out/sanitizer_$tool.log" 2>&1
    rc=$?
    note "compute-sanitizer $tool (op tests): rc=$rc; $(grep -E 'ERROR SUMMARY' "$out/sanitizer_$tool.log" | tail -1)"
  done
  rm -rf /tmp/gan_san_run
  compute-sanitizer --tool memcheck --error-exitcode 99 $B/gan_cuda --epochs 1 --batch-size 64 \
    --out /tmp/gan_san_run --log-every 20 >"$out/sanitizer_train.log" 2>&1
  note "compute-sanitizer memcheck (1 epoch of training): rc=$?; $(grep -E 'ERROR SUMMARY' "$out/sanitizer_train.log" | tail -1)"
fi

if [[ " $steps " == *" train50 "* ]]; then
  rm -rf /tmp/gan_run50
  t0=$SECONDS
  $B/gan_cuda --epochs 50 --out /tmp/gan_run50 >"$out/train50.log" 2>&1
  rc=$?
  note "gan_cuda --epochs 50: rc=$rc in $((SECONDS - t0)) s; last record: $(tail -1 /tmp/gan_run50/metrics.jsonl 2>/dev/null)"
  cp /tmp/gan_run50/samples/epoch_050.png "$out/" 2>/dev/null
  cp /tmp/gan_run50/metrics.jsonl "$out/train50_metrics.jsonl" 2>/dev/null
fi
note "done"
if [ -n "${OUT:-}" ]; then
  tar czf "$OUT/logs.tgz" "$out"
  cp "$summary" "$out/epoch_050.png" "$out/train50_metrics.jsonl" "$OUT/" 2>/dev/null
fi
