#!/usr/bin/env bash
# train.sh — installs dependencies, builds the release preset and runs gan_cuda with the
# given flags (default: the main job, 50 epochs on the bundled MNIST digits, into out/).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
command -v nvcc >/dev/null 2>&1 || export PATH="/usr/local/cuda/bin:$PATH"
cmake --preset release >/dev/null
cmake --build --preset release
[ $# -gt 0 ] || set -- --epochs 50
exec build/release/gan_cuda "$@"
