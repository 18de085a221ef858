#!/usr/bin/env bash
# deps.sh — on a machine WITH registry access: unpacks the Debian packages the build and the
# programs need into .deps/ (git-ignored), for a GPU machine that reaches no registry.
# They are packed into .deps.tgz (also git-ignored, about 15 MB): carry ".deps.tgz" to that
# machine, since the unpacked folder (about 53 MB) and the tree together pass the 64 MiB that
# a device call carries. tools/gpu/env.sh unpacks it there and points CMake and the loader at it.
set -euo pipefail
cd "$(dirname "$0")/../.."
pkgs=(doctest-dev libcli11-dev libstb-dev libstb0 zlib1g-dev nlohmann-json3-dev
      libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libgfortran5
      libquadmath0 libgif-dev libgif7 libeigen3-dev)
rm -rf .deps && mkdir -p .deps/debs
(cd .deps/debs && apt-get download "${pkgs[@]}" >/dev/null 2>&1)
for f in .deps/debs/*.deb; do dpkg -x "$f" .deps; done
rm -rf .deps/debs .deps/usr/share/doc .deps/usr/share/man
# only the shared OpenBLAS is linked: drop static archives and the BLAS/LAPACK shims (size)
find .deps -name '*.a' -delete
rm -f .deps/usr/lib/x86_64-linux-gnu/openblas-pthread/lib{blas,lapack}.so*
tar czf .deps.tgz .deps
echo "unpacked into .deps/: ${pkgs[*]} ($(du -sh .deps | cut -f1)); packed: .deps.tgz ($(du -sh .deps.tgz | cut -f1))"
