/*
 * test_matmul_empty.cpp — matmul with an empty inner dimension (K = 0): C = beta C, as BLAS
 * defines it (beta = 0 gives zeros), in every transpose combination, on the CPU backend and
 * in the float and double CBLAS wrappers; and M = 0 or N = 0 touch nothing.
 */
#include <doctest/doctest.h>

#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/gemm_cpu.hpp"

namespace {

using namespace gan;

TEST_CASE("matmul with K = 0 gives beta C in every transpose combination") {
  const auto be = make_cpu_backend();
  const int M = 3, N = 4;
  const float a = 0, b = 0;  // never read: there is nothing to multiply
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (float beta : {0.0f, 0.5f, 1.0f}) {
        INFO("ta=" << ta << " tb=" << tb << " beta=" << beta);
        std::vector<float> c(M * N), want(M * N);
        std::vector<double> cd(M * N), want_d(M * N);
        for (int i = 0; i < M * N; ++i) {
          c[i] = static_cast<float>(i + 1);
          cd[i] = i + 1;
          want[i] = beta * c[i];
          want_d[i] = beta * cd[i];
        }
        be->matmul(ta, tb, M, N, 0, 2.0f, &a, &b, beta, c.data());
        CHECK(c == want);
        const double ad = 0, bd = 0;
        cpu::gemm<double>(ta, tb, M, N, 0, 2.0, &ad, &bd, beta, cd.data());
        CHECK(cd == want_d);
      }
  std::vector<float> untouched = {7.0f};
  be->matmul(false, false, 0, 1, 0, 1.0f, &a, &b, 0.0f, untouched.data());
  be->matmul(true, true, 1, 0, 3, 1.0f, &a, &b, 0.0f, untouched.data());
  CHECK(untouched[0] == 7.0f);
}

}  // namespace
