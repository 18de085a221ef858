/*
 * gemm_eigen_sse2.cpp — the fast SGEMM built for the sse2 level (see gemm_eigen_isa.hpp;
 * CMakeLists.txt gives this file its instruction-set flags).
 */
#define GAN_GEMM_ISA gemm_eigen_sse2
#include "kernels/cpu/gemm_eigen_isa.hpp"
