/*
 * gemm_eigen_avx512.cpp — the fast SGEMM built for the avx512 level (see gemm_eigen_isa.hpp;
 * CMakeLists.txt gives this file its instruction-set flags).
 */
#define GAN_GEMM_ISA gemm_eigen_avx512
#include "kernels/cpu/gemm_eigen_isa.hpp"
