# env.sh — source it on the GPU machine: uses .deps/ (from tools/gpu/deps.sh) when present,
# unpacking it first from a carried .deps.tgz.
# Sets GAN_CMAKE_ARGS for `cmake --preset release $GAN_CMAKE_ARGS` and the loader path.
GAN_CMAKE_ARGS=""
if [ ! -d .deps/usr ] && [ -f .deps.tgz ]; then
  tar xzf .deps.tgz || echo "env.sh: could not unpack .deps.tgz" >&2
fi
if [ -d .deps/usr ]; then
  deps="$PWD/.deps/usr"
  GAN_CMAKE_ARGS="-DCMAKE_PREFIX_PATH=$deps"
  export LD_LIBRARY_PATH="$deps/lib/x86_64-linux-gnu:$deps/lib/x86_64-linux-gnu/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
command -v nvcc >/dev/null 2>&1 || export PATH="/usr/local/cuda/bin:$PATH"
export GAN_CMAKE_ARGS
