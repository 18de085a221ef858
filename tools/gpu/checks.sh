#!/usr/bin/env bash
# checks.sh — what only a GPU can show, in one call of at most 10 minutes on the GPU machine
# (one H200, 16 cores, driver 580, torch preinstalled, no package registry), in order of value:
#   1 build        driver >= 580 (what CUDA 13 needs), the GPU's name; release build, all cores
#   2 gpu-tests    the GPU suite with REQUIRE_GPU=1, then the fresh-capture case in its own
#                  process; the largest GPU-CPU difference of each comparison is kept
#   3 graph-eager  gan_cuda --epochs 1 with and without --no-graph: metrics and samples identical
#   4 sanitizers   compute-sanitizer memcheck, racecheck, synccheck, initcheck on small subsets
#   5 bench        gan_cuda bench at batch 128 and 1024 beside the PyTorch peer
#                  (tools/bench/torch_gan.py: eager and compile-default), same initial weights
#   6 train50      gan_cuda --epochs 50 on the bundled data, timed; gan_cuda eval on its checkpoint
# Every step stops at its own time limit and at the budget of the whole call (BUDGET_S,
# default 560 s), so the later steps still run; a step that finds no time left says so.
# Without a GPU the script still runs end to end: step 1 builds, and every GPU step reports
# "no GPU" (step 2 also shows that the GPU suite then exits 77, CTest's "skipped").
#
# Expected durations (seconds): those of the first record, docs/gpu-runs/2026-11-30-checks.md
# (one H200, 16 cores, nvcc 13.0, driver 580).
#   step         limit  expected
#   build          240        60   (56 and 58 s measured)
#   gpu-tests      120        10   (5 s)
#   graph-eager     60        10   (3 s)
#   sanitizers     220       130   (4 tools, at most 40 s each, racecheck 100 s, which it
#                                   needs all of: 115 s measured)
#   bench          150       100   (94 s: 28 s gan_cuda, the rest PyTorch, compile included)
#   train50        180        45   (42 s: 17 s of training, 25 s of eval)
#
# Writes under $OUT (default gpu-logs/) at most five files, as few as the device tool brings
# back: summary.txt (one line per step, then its details: the record to keep under
# docs/gpu-runs/), files.tgz (logs/ with one log per step, cut to its first and last lines;
# gpu_max_diffs.txt; bench/*.json; train50/ with metrics.jsonl, epoch_050.png, eval.json),
# and beside it gpu_max_diffs.txt, epoch_050.png and eval.json. files.tgz is rewritten after
# every step, so a call cut short still returns what was done. Without $OUT in the
# environment the same files also stay unpacked in gpu-logs/files/.
# STEPS selects steps by name (default: all six, in the order above). Exit status 0 unless
# a step failed or timed out ("no GPU" and "skipped" are not failures).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tools/gpu/env.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gan_checks.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
if [ -n "${OUT:-}" ]; then
  FILES=$WORK/files
else
  OUT=gpu-logs
  rm -rf "$OUT/files"
  FILES=$PWD/$OUT/files
fi
mkdir -p "$OUT" "$FILES/logs"
OUT=$(cd "$OUT" && pwd)
BUDGET_S=${BUDGET_S:-560}
STEPS=${STEPS:-build gpu-tests graph-eager sanitizers bench train50}
B=$PWD/build/release
SUMMARY=$OUT/summary.txt
START=$SECONDS
FAILURES=0
: >"$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }

have_gpu() { nvidia-smi -L 2>/dev/null | grep -q '^GPU '; }
have_binaries() { [ -x "$B/gan_cuda" ] && [ -x "$B/gan_gpu_tests" ]; }

# A log cut to its first 100 and last 400 lines.
trim_log() {
  local f=$1 n
  [ -f "$f" ] || return 0
  n=$(wc -l <"$f")
  if [ "$n" -gt 600 ]; then
    { head -n 100 "$f"; echo "... $((n - 500)) lines cut ..."; tail -n 400 "$f"; } >"$f.cut"
    mv "$f.cut" "$f"
  fi
}

# ---- the steps: each appends "key: value" lines to $DETAIL and exits 0 ok, 1 failed,
# ---- 3 no GPU, 4 skipped (with the reason in $DETAIL) -------------------------------------

step_build() {
  local driver
  if have_gpu; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >>"$LOG"
    echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)" >>"$DETAIL"
    driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)
    if [ "${driver%%.*}" -lt 580 ]; then
      echo "driver $driver is older than the 580 that CUDA 13 needs" >>"$DETAIL"
      return 1
    fi
  else
    if command -v nvidia-smi >/dev/null; then
      echo "gpu: none (nvidia-smi -L: $(nvidia-smi -L 2>&1 | head -1))" >>"$DETAIL"
    else
      echo "gpu: none (no nvidia-smi)" >>"$DETAIL"
    fi
  fi
  echo "nvcc: $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo missing)" >>"$DETAIL"
  echo "cores: $(nproc)" >>"$DETAIL"
  local t0=$SECONDS
  # shellcheck disable=SC2086  # GAN_CMAKE_ARGS is a list of arguments
  if ! cmake --preset release $GAN_CMAKE_ARGS >>"$LOG" 2>&1; then
    echo "configure failed: $(grep -m1 -i error "$LOG")" >>"$DETAIL"
    return 1
  fi
  if ! cmake --build --preset release -j "$(nproc)" >>"$LOG" 2>&1; then
    echo "build failed: $(grep -m1 -E 'error' "$LOG")" >>"$DETAIL"
    return 1
  fi
  echo "build: $((SECONDS - t0)) s on $(nproc) cores" >>"$DETAIL"
}

step_gpu_tests() {
  have_binaries || { echo "no binaries (the build failed)" >>"$DETAIL"; return 4; }
  if ! have_gpu; then
    "$B/gan_gpu_tests" >>"$LOG" 2>&1
    echo "without a GPU gan_gpu_tests exits $? ($(tail -1 "$LOG"))" >>"$DETAIL"
    return 3
  fi
  local rc1 rc2
  REQUIRE_GPU=1 "$B/gan_gpu_tests" >"$WORK/suite.log" 2>&1
  rc1=$?
  cat "$WORK/suite.log" >>"$LOG"
  echo "suite: exit $rc1; $(grep -E '^\[doctest\] (test cases|assertions)' "$WORK/suite.log" | tr -s ' ' | tr '\n' ' ')" >>"$DETAIL"
  sed -n '/^largest GPU-CPU differences/,$p' "$WORK/suite.log" >"$FILES/gpu_max_diffs.txt"
  echo "largest |diff|/tolerance: $(awk 'NR > 1 && NF >= 5 {
      name = $1; for (i = 2; i <= NF - 4; ++i) name = name " " $i; print $(NF - 2), "(" name ")" }' \
      "$FILES/gpu_max_diffs.txt" | sort -g | tail -1) (every comparison: gpu_max_diffs.txt)" >>"$DETAIL"
  REQUIRE_GPU=1 "$B/gan_gpu_tests" --no-skip "-tc=fresh process*" >"$WORK/fresh.log" 2>&1
  rc2=$?
  cat "$WORK/fresh.log" >>"$LOG"
  echo "fresh backend capturing first, own process: exit $rc2; $(grep -E '^\[doctest\] test cases' "$WORK/fresh.log" | tr -s ' ')" >>"$DETAIL"
  [ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]
}

step_graph_eager() {
  have_binaries || { echo "no binaries (the build failed)" >>"$DETAIL"; return 4; }
  have_gpu || return 3
  local t0=$SECONDS
  "$B/gan_cuda" --epochs 1 --device cuda --out "$WORK/graph" >>"$LOG" 2>&1 ||
    { echo "graph run failed: $(tail -1 "$LOG")" >>"$DETAIL"; return 1; }
  echo "graph run: $((SECONDS - t0)) s" >>"$DETAIL"
  t0=$SECONDS
  "$B/gan_cuda" --epochs 1 --device cuda --no-graph --out "$WORK/eager" >>"$LOG" 2>&1 ||
    { echo "eager run failed: $(tail -1 "$LOG")" >>"$DETAIL"; return 1; }
  echo "eager run: $((SECONDS - t0)) s" >>"$DETAIL"
  python3 - "$WORK/graph/metrics.jsonl" "$WORK/eager/metrics.jsonl" >>"$DETAIL" 2>&1 <<'EOF' || return 1
import json, sys
def load(path):  # every field but the timings
    return [{k: v for k, v in json.loads(line).items() if k not in ("images_per_s", "time_s")}
            for line in open(path)]
a, b = load(sys.argv[1]), load(sys.argv[2])
same = len(a) == len(b) and a == b
first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
print(f"metrics: {len(a)} records graph, {len(b)} eager: "
      + ("identical" if same else f"DIFFER (first at record {first})"))
sys.exit(0 if same else 1)
EOF
  if cmp -s "$WORK/graph/samples/epoch_001.png" "$WORK/eager/samples/epoch_001.png"; then
    echo "sample grids: identical" >>"$DETAIL"
  else
    echo "sample grids: DIFFER" >>"$DETAIL"
    return 1
  fi
}

step_sanitizers() {
  have_binaries || { echo "no binaries (the build failed)" >>"$DETAIL"; return 4; }
  have_gpu || return 3
  command -v compute-sanitizer >/dev/null || { echo "compute-sanitizer not found" >>"$DETAIL"; return 4; }
  local tool subset rc failed=0 slog limit
  for tool in memcheck racecheck synccheck initcheck; do
    case $tool in
      memcheck) subset='cuda graphs*,cuda d_head*,cuda dense_*,cuda adam*,cuda shuffle*,cuda gather*,cuda noise*,cuda check_finite*,cuda matmul*,cuda softmax*,cuda training: a replayed*' ;;
      # racecheck covered dense_* and softmax in the first record (no hazard) but ran out of
      # time in d_head; RACECHECK_TESTS=... takes them back in.
      racecheck) subset=${RACECHECK_TESTS:-'cuda d_head*,cuda check_finite*,cuda adam*,cuda shuffle*'} ;;
      synccheck) subset='cuda d_head*,cuda dense_*,cuda check_finite*,cuda adam*,cuda softmax*,cuda shuffle*' ;;
      initcheck) subset='cuda graphs: one*,cuda d_head*,cuda dense_*,cuda adam*,cuda noise*,cuda shuffle*,cuda gather*' ;;
    esac
    slog=$WORK/$tool.log
    limit=40
    [ "$tool" = racecheck ] && limit=100  # the dense tests at the model's shapes: ~40 s is not enough
    REQUIRE_GPU=1 timeout -k 5 "$limit" compute-sanitizer --tool "$tool" --error-exitcode 99 \
      --print-limit 20 "$B/gan_gpu_tests" "-tc=$subset" >"$slog" 2>&1
    rc=$?
    cat "$slog" >>"$LOG"
    [ "$rc" -eq 0 ] || failed=1
    echo "$tool: exit $rc$([ "$rc" -eq 124 ] && echo " (timed out at $limit s)"); $(grep -E 'ERROR SUMMARY' "$slog" | tail -1); $(grep -E '^\[doctest\] test cases' "$slog" | tr -s ' ')" >>"$DETAIL"
  done
  return "$failed"
}

step_bench() {
  have_binaries || { echo "no binaries (the build failed)" >>"$DETAIL"; return 4; }
  local torch_ok=1 why batch mode failed=0
  why=$(python3 -c 'import torch, safetensors; print(torch.__version__)' 2>&1) || torch_ok=0
  why=$(echo "$why" | tail -1)
  if ! have_gpu; then
    # Nothing to time; where torch imports, one short CPU run checks the peer's path
    # (gan_cuda's initial weights -> torch_gan.py) so that the GPU run does not find it broken.
    if [ "$torch_ok" -eq 0 ]; then
      echo "PyTorch peer: skipped: torch does not import ($why)" >>"$DETAIL"
    elif "$B/gan_cuda" bench --device cpu --blocks 0 --save-init "$WORK/init.safetensors" \
           >>"$LOG" 2>&1 &&
         python3 tools/bench/torch_gan.py --device cpu --mode eager --batch 128 --blocks 1 \
           --iters-per-block 1 --warmup 0 --init "$WORK/init.safetensors" \
           --json "$WORK/torch_cpu.json" >"$WORK/torch.log" 2>&1; then
      cat "$WORK/torch.log" >>"$LOG"
      echo "PyTorch peer (torch $why) runs from gan_cuda's initial weights: CPU smoke run ok" >>"$DETAIL"
    else
      cat "$WORK/torch.log" >>"$LOG" 2>/dev/null
      echo "PyTorch peer (torch $why): CPU smoke run FAILED: $(tail -1 "$LOG")" >>"$DETAIL"
      return 1
    fi
    return 3
  fi
  mkdir -p "$FILES/bench"
  for batch in 128 1024; do
    "$B/gan_cuda" bench --batch "$batch" --device cuda --save-init "$WORK/init$batch.safetensors" \
      --json "$FILES/bench/gan_cuda_b$batch.json" >>"$LOG" 2>&1 || failed=1
    echo "gan_cuda b$batch: $(grep -E "^bench .* batch $batch on" "$LOG" | tail -1)" >>"$DETAIL"
  done
  if [ "$torch_ok" -eq 0 ]; then
    echo "PyTorch peer: skipped: torch does not import ($why)" >>"$DETAIL"
    return "$failed"
  fi
  echo "torch: $why" >>"$DETAIL"
  for mode in eager compile-default; do
    for batch in 128 1024; do
      python3 tools/bench/torch_gan.py --mode "$mode" --batch "$batch" --blocks 10 \
        --init "$WORK/init$batch.safetensors" --json "$FILES/bench/torch_${mode}_b$batch.json" \
        >"$WORK/torch.log" 2>&1 || failed=1
      cat "$WORK/torch.log" >>"$LOG"
      echo "torch $mode b$batch: $(grep -E '^torch_gan' "$WORK/torch.log" | tail -1 || tail -1 "$WORK/torch.log")" >>"$DETAIL"
    done
  done
  return "$failed"
}

step_train50() {
  have_binaries || { echo "no binaries (the build failed)" >>"$DETAIL"; return 4; }
  have_gpu || return 3
  local run=$WORK/run50 t0=$SECONDS
  mkdir -p "$FILES/train50"
  "$B/gan_cuda" --epochs 50 --device cuda --out "$run" >>"$LOG" 2>&1
  local rc=$?
  echo "gan_cuda --epochs 50: exit $rc in $((SECONDS - t0)) s" >>"$DETAIL"
  cp "$run/metrics.jsonl" "$run/samples/epoch_050.png" "$FILES/train50/" 2>/dev/null
  echo "last record: $(grep -v '"eval"' "$run/metrics.jsonl" 2>/dev/null | tail -1)" >>"$DETAIL"
  [ "$rc" -eq 0 ] || return 1
  t0=$SECONDS
  "$B/gan_cuda" eval --device cuda --checkpoint "$run/checkpoint.safetensors" \
    --out "$FILES/train50/eval.json" >>"$LOG" 2>&1 ||
    { echo "eval failed: $(tail -1 "$LOG")" >>"$DETAIL"; return 1; }
  echo "eval: $((SECONDS - t0)) s; $(tail -n 12 "$LOG" | tr -s ' ' | tr '\n' ';' | cut -c1-400)" >>"$DETAIL"
}

export -f have_gpu have_binaries step_build step_gpu_tests step_graph_eager step_sanitizers \
  step_bench step_train50
export B FILES WORK GAN_CMAKE_ARGS PYTHONUNBUFFERED=1

# ---- the runner -------------------------------------------------------------------------
# run_step NUMBER NAME LIMIT_S EXPECTED_S: runs step_NAME under `timeout`, then writes its
# summary line and its details, indented.
run_step() {
  local num=$1 name=$2 limit=$3 expected=$4 fn left rc status t0
  case " $STEPS " in *" $name "*) ;; *) return 0 ;; esac
  fn=step_${name//-/_}
  left=$((BUDGET_S - (SECONDS - START) - 5))
  [ "$left" -lt "$limit" ] && limit=$left
  export LOG=$FILES/logs/$num-$name.log DETAIL=$WORK/$name.detail
  : >"$LOG"
  : >"$DETAIL"
  if [ "$limit" -lt 10 ]; then
    note "$num $name: not run: out of time (budget ${BUDGET_S} s)"
    return 0
  fi
  t0=$SECONDS
  timeout -k 10 "$limit" bash -c "$fn"
  rc=$?
  case $rc in
    0) status=ok ;;
    3) status="no GPU" ;;
    4) status=skipped ;;
    124 | 137) status="TIMED OUT at ${limit} s" ;;
    *) status="FAILED (exit $rc)" ;;
  esac
  case $rc in 0 | 3 | 4) ;; *) FAILURES=$((FAILURES + 1)) ;; esac
  note "$num $name: $status  ($((SECONDS - t0)) s; limit ${limit} s; expected ${expected} s on the GPU machine)"
  sed 's/^/    /' "$DETAIL" | tee -a "$SUMMARY"
  trim_log "$LOG"
  pack
}

# files.tgz and the few files worth a look without unpacking it, into $OUT.
pack() {
  tar czf "$OUT/files.tgz.tmp" -C "$FILES" . && mv "$OUT/files.tgz.tmp" "$OUT/files.tgz"
  local f
  for f in gpu_max_diffs.txt train50/epoch_050.png train50/eval.json; do
    [ -f "$FILES/$f" ] && cp "$FILES/$f" "$OUT/"
  done
  return 0
}

# The caller's GAN_COMMIT wins: the tree copied to a GPU machine may carry a stale .git.
commit=${GAN_COMMIT:-unknown}
if [ -z "${GAN_COMMIT:-}" ] && git rev-parse --short HEAD >/dev/null 2>&1; then
  commit=$(git rev-parse --short HEAD)
  git diff --quiet HEAD || commit="$commit (with local changes)"
fi
note "gan_cuda GPU checks  $(date -u +%FT%TZ)  commit $commit"
note "machine: $(nproc) cores, GPU: $(have_gpu && nvidia-smi -L | head -1 || echo none)"
run_step 1 build 240 60
run_step 2 gpu-tests 120 10
run_step 3 graph-eager 60 10
run_step 4 sanitizers 220 130
run_step 5 bench 150 100
run_step 6 train50 180 45
note "total: $((SECONDS - START)) s (budget ${BUDGET_S} s), $FAILURES step(s) failed or timed out; logs in $OUT/files.tgz"
[ "$FAILURES" -eq 0 ]
