/*
 * test_readback_clock.cpp — the CPU backend's read-back clock (Backend::mark_clock and
 * download_seconds): the time from the mark to the last download, not to the question.
 */
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "kernels/cpu/cpu_backend.hpp"

namespace {

using namespace gan;

TEST_CASE("cpu read-back clock: seconds from the mark to the last download, whenever asked") {
  const auto be = make_cpu_backend(CpuOptions{});
  float* dev = static_cast<float*>(be->alloc(sizeof(float)));
  float* host = static_cast<float*>(be->alloc_host(sizeof(float)));
  const auto pause = std::chrono::milliseconds(30);

  be->mark_clock();
  std::this_thread::sleep_for(pause);
  be->download_async(host, dev, sizeof(float));
  be->wait_downloads();
  const double first = be->download_seconds();
  CHECK(first >= 0.030);
  CHECK(first < 5.0);

  std::this_thread::sleep_for(pause);  // asking later does not move the download's time
  CHECK(be->download_seconds() == first);

  be->download_async(host, dev, sizeof(float));  // a later download is later
  be->wait_downloads();
  CHECK(be->download_seconds() >= first + 0.030);

  be->mark_clock();  // a new mark starts the clock again
  be->download_async(host, dev, sizeof(float));
  be->wait_downloads();
  CHECK(be->download_seconds() >= 0.0);
  CHECK(be->download_seconds() < first);

  be->free_host(host);
  be->free(dev);
}

}  // namespace
