/*
 * test_matmul_empty.cpp — matmul with an empty inner dimension (K = 0): C = beta C, as BLAS
 * defines it (beta = 0 gives zeros), in every transpose combination, on the CPU backend and
 * in the float and double CBLAS wrappers; and M = 0 or N = 0 touch nothing.
 */
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
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

// What `f` writes to the standard output and error streams (file descriptors 1 and 2).
template <class F>
std::string printed_by(F&& f) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::FILE* sink = std::tmpfile();
  REQUIRE(sink != nullptr);
  const int saved_out = ::dup(1), saved_err = ::dup(2);
  ::dup2(::fileno(sink), 1);
  ::dup2(::fileno(sink), 2);
  f();
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(saved_out, 1);
  ::dup2(saved_err, 2);
  ::close(saved_out);
  ::close(saved_err);
  std::string text;
  std::rewind(sink);
  for (int c; (c = std::fgetc(sink)) != EOF;) text += static_cast<char>(c);
  std::fclose(sink);
  return text;
}

TEST_CASE("the CBLAS wrappers leave C alone and print nothing when M = 0 or N = 0") {
  // BLAS calls a leading dimension of 0 illegal and says so on the console: the wrappers
  // must not call it for an empty C
  const float af[4] = {1, 2, 3, 4}, bf[4] = {5, 6, 7, 8};
  const double ad[4] = {1, 2, 3, 4}, bd[4] = {5, 6, 7, 8};
  float cf[4] = {7, 7, 7, 7};
  double cd[4] = {7, 7, 7, 7};
  const std::string said = printed_by([&] {
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (const auto& [M, N] : {std::pair{0, 2}, std::pair{2, 0}, std::pair{0, 0}}) {
          cpu::gemm<float>(ta, tb, M, N, 2, 1.0f, af, bf, 0.0f, cf);
          cpu::gemm<double>(ta, tb, M, N, 2, 1.0, ad, bd, 0.0, cd);
        }
  });
  CHECK(said == "");
  for (int i = 0; i < 4; ++i) {
    CHECK(cf[i] == 7.0f);
    CHECK(cd[i] == 7.0);
  }
}

}  // namespace
