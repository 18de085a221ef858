#!/usr/bin/env bash
# seeds.sh — the quality of training recipes over many seeds, on the GPU: each recipe x seed is
# trained for EPOCHS epochs (`gan_cuda --device "$DEVICE"`) and scored by `gan_cuda eval` on 10,000
# samples with one shared classifier; a table of the scores is written as it fills.
#   RECIPES   "name=flags;name=flags..." (default: default=, z100=--z-dim 100,
#             label0.8=--real-label 0.8)
#   SEEDS     seeds of each recipe (default: 0 1 2 3)
#   PARALLEL  runs at a time on the one GPU (default 4)
#   EPOCHS    (default 50);  BUDGET_S: no run starts after this many seconds (default 400)
#   CLASSIFIER  a classifier from `gan_cuda train-classifier` (default: trained here, once)
# Runs go round-robin over the recipes (seed 0 of each first), so a cut-short call still
# compares every recipe. Writes under $OUT (default gpu-logs/seeds): table.md (one row per
# scored run), runs.tgz (each run's eval.json and metrics.jsonl, and the logs).
# Uses build/release from tools/gpu/checks.sh when it is there; builds it otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tools/gpu/env.sh
OUT=${OUT:-gpu-logs/seeds}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RECIPES=${RECIPES:-default=;z100=--z-dim 100;label0.8=--real-label 0.8}
SEEDS=${SEEDS:-0 1 2 3}
PARALLEL=${PARALLEL:-4}
EPOCHS=${EPOCHS:-50}
BUDGET_S=${BUDGET_S:-400}
B=$PWD/build/release
DEVICE=${DEVICE:-cuda}  # cpu: a dry run of this script on a machine without a GPU
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gan_seeds.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
START=$SECONDS

if [ ! -x "$B/gan_cuda" ]; then
  # shellcheck disable=SC2086  # GAN_CMAKE_ARGS is a list of arguments
  cmake --preset release $GAN_CMAKE_ARGS >"$WORK/build.log" 2>&1 &&
    cmake --build --preset release -j "$(nproc)" --target gan_cuda >>"$WORK/build.log" 2>&1 ||
    { tail -20 "$WORK/build.log"; exit 1; }
fi
C=${CLASSIFIER:-$WORK/classifier.safetensors}
if [ ! -f "$C" ]; then
  "$B/gan_cuda" train-classifier --out "$C" >"$WORK/classifier.log" 2>&1 ||
    { tail -5 "$WORK/classifier.log"; exit 1; }
fi

# the queue: seed-major, so that each recipe's seed 0 comes before any recipe's seed 1
IFS=';' read -r -a recipes <<<"$RECIPES"
jobs=()
for seed in $SEEDS; do
  for r in "${recipes[@]}"; do jobs+=("$seed|$r"); done
done

one_run() {  # seed|name=flags
  local seed=${1%%|*} r=${1#*|} name flags dir
  name=${r%%=*}
  flags=${r#*=}
  dir=$WORK/runs/$name/seed$seed
  mkdir -p "$dir"
  # shellcheck disable=SC2086  # flags is a list of arguments
  if "$B/gan_cuda" --epochs "$EPOCHS" --device "$DEVICE" --seed "$seed" $flags --out "$dir/run" \
       >"$dir/train.log" 2>&1 &&
     "$B/gan_cuda" eval --device "$DEVICE" --classifier "$C" --checkpoint "$dir/run/checkpoint.safetensors" \
       --out "$dir/eval.json" >"$dir/eval.log" 2>&1; then
    cp "$dir/run/metrics.jsonl" "$dir/" 2>/dev/null
    echo "$name seed $seed: done at $((SECONDS - START)) s"
  else
    echo "$name seed $seed: FAILED: $(tail -1 "$dir/train.log" "$dir/eval.log" 2>/dev/null | tr '\n' ' ')"
  fi
  rm -rf "$dir/run/samples" "$dir/run"/*.safetensors
}
export -f one_run
export B C WORK EPOCHS START DEVICE

table() {
  python3 - "$WORK/runs" >"$OUT/table.md" <<'EOF'
import glob, json, os, sys
rows = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*", "seed*", "eval.json"))):
    name, seed = path.split(os.sep)[-3:-1]
    m = json.load(open(path))["metrics"]
    h = m["classes"]["histogram"]
    n = sum(h)
    rows.append(f"| {name} | {seed[4:]} | {m['classes']['covered']} | {100 * min(h) / n:.1f} … "
                f"{100 * max(h) / n:.1f}% | {m['classes']['kl_to_uniform']:.3f} | "
                f"{m['frechet_distance']:.1f} | {m['precision']:.3f} | {m['recall']:.3f} | "
                f"{m['parzen']['log_likelihood']:.1f} | {m['nearest_train']['ratio']:.2f} |")
print("| recipe | seed | digits | rarest … commonest | KL | Fréchet | precision | recall | Parzen | NN ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
print("\n".join(rows))
EOF
  tar czf "$OUT/runs.tgz" -C "$WORK" runs 2>/dev/null
}

running=0
for j in "${jobs[@]}"; do
  if [ $((SECONDS - START)) -ge "$BUDGET_S" ]; then
    echo "budget of $BUDGET_S s reached: not started: $j"
    continue
  fi
  bash -c 'one_run "$0"' "$j" &
  running=$((running + 1))
  if [ "$running" -ge "$PARALLEL" ]; then
    wait -n
    running=$((running - 1))
    table
  fi
done
wait
table
cat "$OUT/table.md"
echo "total: $((SECONDS - START)) s"
