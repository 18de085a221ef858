/*
 * cpu_backend.hpp — the CPU reference backend: every op of engine/backend.hpp in plain C++.
 *
 * Memory is host memory, ops run synchronously in the calling thread (matrix products
 * through OpenBLAS). It is the oracle the CUDA backend is tested against and lets the
 * whole engine train where there is no GPU.
 */
#pragma once

#include <memory>

#include "engine/backend.hpp"

namespace gan {

std::unique_ptr<Backend> make_cpu_backend();

}  // namespace gan
