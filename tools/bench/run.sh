#!/usr/bin/env bash
# run.sh — the gan_cuda vs PyTorch benchmark, one command: build, measure, report.
#
#   tools/bench/run.sh                  # on a GPU machine: the full benchmark (<= 480 s measuring)
#   QUICK=1 tools/bench/run.sh          # batch 128 only, fewer blocks and epochs (<= 240 s)
#   DEVICE=cpu QUICK=1 tools/bench/run.sh   # the plumbing on the CPU backend and PyTorch on the CPU
#
# Builds gan_cuda and gan_ceilings (the release preset's settings, in BUILD_DIR), then runs
# tools/bench/run_bench.py (ceilings, alternating timings of every program at every batch
# and precision, 50 epochs end to end, kernel-bench) into RUN_DIR, and tools/bench/report.py,
# which writes REPORT_DIR/results-<date>-<commit>.md and .json. docs/bench/README.md says what
# every column means. Steps left when BUDGET_S seconds of measuring are spent are skipped and
# listed in the report. PyTorch is needed only for the peer (PYTHON must import torch).
#
# Settings (environment; QUICK=1 changes the defaults marked q):
#   DEVICE             cuda | cpu                  (default: cuda when nvidia-smi sees a GPU)
#   BATCHES            "64 128 256 512 1024"       (q: "128")
#   PRECISIONS         "fp32 tf32"                 (DEVICE=cpu: "fp32"; TF32 is a GPU mode)
#   BLOCKS             30  (q: 10)   ITERS_PER_BLOCK 20 (q: 10)   WARMUP 20 (q: 10)
#   TORCH_MODES        "eager compile-default compile-reduce-overhead compile-max-autotune
#                       dataloader"               (q: "eager compile-reduce-overhead dataloader")
#   COMPILE_BATCHES    "128 1024"  batches for compile-default and compile-reduce-overhead
#   AUTOTUNE_BATCHES   "128"       batches for compile-max-autotune
#   DATALOADER_BATCHES "128"       batches for dataloader
#   E2E_EPOCHS         50 (q: 5)   E2E_BATCH 128   E2E_TORCH_MODES "eager compile-reduce-overhead"
#   KERNEL_BENCH       1           KERNEL_REPEATS 30 (q: 10)
#   BUDGET_S           480 (q: 240)  seconds of measuring before the remaining steps are skipped
#   TOTAL_S            when set, the whole command's target time: BUDGET_S becomes TOTAL_S minus
#                      the build's time minus 45 s (for the last steps and the report)
#   PARALLEL           16          program set-ups (compilation) at a time
#   DATA               an IDX folder of training images; default: the bundled complete MNIST
#   PYTHON             python3     BUILD_DIR build/release (cpu: build/cpu)
#   SKIP_BUILD         1: use BUILD_DIR as it is      BUILD_ONLY 1: stop after the build
#   RUN_DIR            out/bench-run           REPORT_DIR docs/bench (cpu: out/bench)
#   COMMIT             the commit measured, for a copy of the tree without .git (default: git's)
# Dependencies unpacked into .deps/ by tools/gpu/deps.sh (for a machine without a package
# registry) are used when present (tools/gpu/env.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
START_S=$SECONDS

if [ -z "${DEVICE:-}" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then DEVICE=cuda
  else DEVICE=cpu; fi
fi
case "$DEVICE" in
  cuda|cpu) ;;
  *) echo "run.sh: DEVICE must be cuda or cpu, got '$DEVICE'" >&2; exit 2;;
esac
QUICK=${QUICK:-0}
q() { if [ "$QUICK" = 1 ]; then echo "$2"; else echo "$1"; fi; }
BATCHES=${BATCHES:-$(q "64 128 256 512 1024" "128")}
if [ "$DEVICE" = cuda ]; then PRECISIONS=${PRECISIONS:-"fp32 tf32"}
else PRECISIONS=${PRECISIONS:-fp32}; fi
BLOCKS=${BLOCKS:-$(q 30 10)}
ITERS_PER_BLOCK=${ITERS_PER_BLOCK:-$(q 20 10)}
WARMUP=${WARMUP:-$(q 20 10)}
ALL_MODES="eager compile-default compile-reduce-overhead compile-max-autotune dataloader"
TORCH_MODES=${TORCH_MODES:-$(q "$ALL_MODES" "eager compile-reduce-overhead dataloader")}
COMPILE_BATCHES=${COMPILE_BATCHES:-"128 1024"}
AUTOTUNE_BATCHES=${AUTOTUNE_BATCHES:-128}
DATALOADER_BATCHES=${DATALOADER_BATCHES:-128}
E2E_EPOCHS=${E2E_EPOCHS:-$(q 50 5)}
E2E_BATCH=${E2E_BATCH:-128}
E2E_TORCH_MODES=${E2E_TORCH_MODES:-"eager compile-reduce-overhead"}
KERNEL_BENCH=${KERNEL_BENCH:-1}
KERNEL_REPEATS=${KERNEL_REPEATS:-$(q 30 10)}
BUDGET_S=${BUDGET_S:-$(q 480 240)}
PARALLEL=${PARALLEL:-16}
PYTHON=${PYTHON:-python3}
SKIP_BUILD=${SKIP_BUILD:-0}
RUN_DIR=${RUN_DIR:-out/bench-run}
if [ "$DEVICE" = cuda ]; then
  BUILD_DIR=${BUILD_DIR:-build/release}; REPORT_DIR=${REPORT_DIR:-docs/bench}
  WITH_CUDA=ON; TARGETS="gan_cuda gan_ceilings"
else
  BUILD_DIR=${BUILD_DIR:-build/cpu}; REPORT_DIR=${REPORT_DIR:-out/bench}
  WITH_CUDA=OFF; TARGETS="gan_cuda"
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # PyTorch and OpenBLAS share few cores
fi

# ---- dependencies unpacked into .deps/ (tools/gpu/deps.sh) ------------------------------
. tools/gpu/env.sh
read -r -a cmake_extra <<< "$GAN_CMAKE_ARGS"

# ---- build ------------------------------------------------------------------------------
if [ "$SKIP_BUILD" != 1 ]; then
  if [ ! -f "$BUILD_DIR/CMakeCache.txt" ] && ! command -v make >/dev/null 2>&1 &&
     command -v ninja >/dev/null 2>&1; then
    cmake_extra+=(-G Ninja)
  fi
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DGAN_WITH_CUDA=$WITH_CUDA \
        "${cmake_extra[@]}" >/dev/null
  # shellcheck disable=SC2086
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target $TARGETS
fi

if [ "${BUILD_ONLY:-0}" = 1 ]; then
  echo "run.sh: built $TARGETS in $BUILD_DIR ($((SECONDS - START_S)) s)"
  exit 0
fi

# ---- measure ------------------------------------------------------------------------------
if [ -n "${TOTAL_S:-}" ]; then
  BUDGET_S=$(( TOTAL_S - (SECONDS - START_S) - 45 ))
  if [ "$BUDGET_S" -lt 60 ]; then BUDGET_S=60; fi
  echo "run.sh: $BUDGET_S s of measuring left of TOTAL_S=$TOTAL_S"
fi
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
data_args=()
[ -n "${DATA:-}" ] && data_args=(--data "$DATA")
commit_args=()
if [ -n "${COMMIT:-}" ]; then commit_args=(--commit "$COMMIT")
else COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown); fi
"$PYTHON" tools/bench/run_bench.py --build "$BUILD_DIR" --out "$RUN_DIR" --device "$DEVICE" \
  "${commit_args[@]}" \
  --python "$PYTHON" "${data_args[@]}" --batches "$BATCHES" --precisions "$PRECISIONS" \
  --torch-modes "$TORCH_MODES" --compile-batches "$COMPILE_BATCHES" \
  --autotune-batches "$AUTOTUNE_BATCHES" --dataloader-batches "$DATALOADER_BATCHES" \
  --blocks "$BLOCKS" --iters-per-block "$ITERS_PER_BLOCK" --warmup "$WARMUP" \
  --parallel "$PARALLEL" --e2e-epochs "$E2E_EPOCHS" --e2e-batch "$E2E_BATCH" \
  --e2e-torch-modes "$E2E_TORCH_MODES" --kernel-bench "$KERNEL_BENCH" \
  --kernel-repeats "$KERNEL_REPEATS" --budget-s "$BUDGET_S"

# ---- report -------------------------------------------------------------------------------
name="results-$(date -u +%Y-%m-%d)-${COMMIT:0:10}"
"$PYTHON" tools/bench/report.py "$RUN_DIR/results.json" --md "$REPORT_DIR/$name.md" \
  --json "$REPORT_DIR/$name.json"
cp "$REPORT_DIR/$name.md" "$RUN_DIR/report.md"
echo "benchmark done: $REPORT_DIR/$name.md ($REPORT_DIR/$name.json); raw runs in $RUN_DIR/runs"
