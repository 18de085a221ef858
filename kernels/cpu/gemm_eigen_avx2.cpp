/*
 * gemm_eigen_avx2.cpp — the fast SGEMM built for the avx2 level (see gemm_eigen_isa.hpp;
 * CMakeLists.txt gives this file its instruction-set flags).
 */
#define GAN_GEMM_ISA gemm_eigen_avx2
#include "kernels/cpu/gemm_eigen_isa.hpp"
