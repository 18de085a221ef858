#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages gan_cuda builds against (run as root).
# The CUDA toolkit (nvcc, cuBLAS, cuRAND, CUB) is expected on the machine already.
set -euo pipefail
pkgs=(cmake g++ make pkg-config zlib1g-dev doctest-dev libcli11-dev libstb-dev
      nlohmann-json3-dev libopenblas-dev libeigen3-dev libgif-dev clang libclang-rt-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
