/*
 * readback_clock_check.hpp — the properties of a backend's read-back clock
 * (Backend::mark_clock, download_seconds), checked the same way on the CPU and the GPU: the
 * time runs from the mark to the last download, asking later does not move it, a later
 * download is later, and a new mark starts the clock again. `resolution_s` is how far the
 * backend's clock may read short of a host pause (0 for the host's own clock; CUDA events
 * are recorded a little after the host asks).
 */
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "engine/backend.hpp"

namespace gan::test {

inline void check_readback_clock(Backend& be, double resolution_s) {
  float* dev = static_cast<float*>(be.alloc(sizeof(float)));
  float* host = static_cast<float*>(be.alloc_host(sizeof(float)));
  const auto pause = std::chrono::milliseconds(30);
  const double pause_s = 0.030 - resolution_s;
  auto download = [&] {
    be.download_async(host, dev, sizeof(float));
    be.wait_downloads();
  };

  be.synchronize();
  be.mark_clock();
  std::this_thread::sleep_for(pause);  // the backend idles: the download comes 30 ms later
  download();
  const double first = be.download_seconds();
  CHECK(first >= pause_s);
  CHECK(first < 5.0);

  std::this_thread::sleep_for(pause);  // asking later does not move the download's time
  CHECK(be.download_seconds() == first);

  download();  // a later download is later
  CHECK(be.download_seconds() >= first + pause_s);

  be.mark_clock();  // a new mark starts the clock again
  download();
  CHECK(be.download_seconds() >= 0.0);
  CHECK(be.download_seconds() < first);

  be.free_host(host);
  be.free(dev);
}

}  // namespace gan::test
