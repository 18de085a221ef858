#!/usr/bin/env bash
# test.sh — installs dependencies, builds the release preset (CPU + CUDA backends; no GPU
# needed to build) and runs the whole test suite with CTest. The GPU tests report
# "Skipped" where there is no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
command -v nvcc >/dev/null 2>&1 || export PATH="/usr/local/cuda/bin:$PATH"
cmake --preset release
cmake --build --preset release
ctest --preset release
