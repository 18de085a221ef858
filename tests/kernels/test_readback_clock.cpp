/*
 * test_readback_clock.cpp — the CPU backend's read-back clock (Backend::mark_clock and
 * download_seconds): the time from the mark to the last download, not to the question
 * (tests/support/readback_clock_check.hpp, shared with the GPU suite).
 */
#include <doctest/doctest.h>

#include "kernels/cpu/cpu_backend.hpp"
#include "tests/support/readback_clock_check.hpp"

namespace {

TEST_CASE("cpu read-back clock: seconds from the mark to the last download, whenever asked") {
  const auto be = gan::make_cpu_backend(gan::CpuOptions{});
  gan::test::check_readback_clock(*be, 0.0);  // the host's clock: the full pause
}

}  // namespace
