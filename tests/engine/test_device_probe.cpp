/*
 * test_device_probe.cpp — what a machine's CUDA answer means for the app and the GPU suite:
 * only "no device" and "no driver at all" let --device auto run on the CPU and the GPU
 * suite report Skipped; every other CUDA error (a driver too old for the runtime, a stub
 * driver) is a failure that names the error. The answers are those the CUDA runtime gives
 * (names, texts, versions), fed in without a GPU.
 */
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "apps/app.hpp"
#include "engine/device_probe.hpp"
#include "engine/base/error.hpp"
#include "tests/support/gpu_suite_gate.hpp"

namespace {

using namespace gan;

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

CudaRuntimeAnswer failed(const char* name, const char* text, int driver) {
  CudaRuntimeAnswer a;
  a.error_name = name;
  a.error_text = text;
  a.error_is_no_device = std::string(name) == "cudaErrorNoDevice";
  a.error_is_old_driver = std::string(name) == "cudaErrorInsufficientDriver";
  a.driver_version = driver;
  a.runtime_version = 13000;
  return a;
}
const CudaRuntimeAnswer kNoDevice =
    failed("cudaErrorNoDevice", "no CUDA-capable device is detected", 13000);
const CudaRuntimeAnswer kNoDriver = failed(
    "cudaErrorInsufficientDriver", "CUDA driver version is insufficient for CUDA runtime version", 0);
const CudaRuntimeAnswer kOldDriver = failed(
    "cudaErrorInsufficientDriver", "CUDA driver version is insufficient for CUDA runtime version",
    12040);
const CudaRuntimeAnswer kStub = failed("cudaErrorStubLibrary", "CUDA driver is a stub library", 0);

TEST_CASE("device probe: no device and no driver are no fault, other CUDA errors are named") {
  CudaRuntimeAnswer two;
  two.ok = true;
  two.devices = 2;
  CHECK(classify_cuda_answer(two).devices == 2);
  CHECK(!classify_cuda_answer(two).failed());

  const DeviceProbe none = classify_cuda_answer(kNoDevice);
  CHECK(none.devices == 0);
  CHECK(!none.failed());
  CHECK(has(none.no_device, "cudaErrorNoDevice"));

  const DeviceProbe no_driver = classify_cuda_answer(kNoDriver);
  CHECK(!no_driver.failed());
  CHECK(has(no_driver.no_device, "no NVIDIA driver"));

  const DeviceProbe old = classify_cuda_answer(kOldDriver);
  REQUIRE(old.failed());
  CHECK(old.devices == 0);
  CHECK(has(old.error, "cudaErrorInsufficientDriver"));
  CHECK(has(old.error, "insufficient"));
  CHECK(has(old.error, "driver supports CUDA 12.4"));
  CHECK(has(old.error, "runtime is CUDA 13.0"));

  CHECK(has(classify_cuda_answer(kStub).error, "cudaErrorStubLibrary"));
  CHECK(cuda_version_text(12090) == "12.9");
}

TEST_CASE("--device auto falls back to the CPU only without a device, saying why in one line") {
  std::ostringstream log;
  CudaRuntimeAnswer one;
  one.ok = true;
  one.devices = 1;
  CHECK(choose_cuda("auto", false, true, classify_cuda_answer(one), log));
  CHECK(choose_cuda("cuda", true, true, classify_cuda_answer(one), log));
  CHECK(log.str().empty());

  for (const CudaRuntimeAnswer* a : {&kNoDevice, &kNoDriver}) {
    std::ostringstream l;
    CHECK(!choose_cuda("auto", false, true, classify_cuda_answer(*a), l));
    const std::string line = l.str();
    CHECK(has(line, "no CUDA device found: running on the CPU"));
    CHECK(has(line, classify_cuda_answer(*a).no_device));  // why
    CHECK(line.find('\n') == line.size() - 1);  // one line
    CHECK_THROWS_AS(choose_cuda("cuda", false, true, classify_cuda_answer(*a), l), InputError);
  }
  std::ostringstream l;
  CHECK(!choose_cuda("auto", true, true, classify_cuda_answer(kNoDevice), l));
  CHECK(has(l.str(), "--tf32 ignored"));

  for (const char* device : {"auto", "cuda"}) {
    std::ostringstream quiet;
    try {
      choose_cuda(device, false, true, classify_cuda_answer(kOldDriver), quiet);
      FAIL("a broken driver was taken for no device");
    } catch (const InputError&) {
      FAIL("a broken driver is a runtime failure, not bad input");
    } catch (const Error& e) {
      CHECK(has(e.what(), "cudaErrorInsufficientDriver"));
      CHECK(has(e.what(), std::string("--device ") + device));
    }
    CHECK(quiet.str().empty());  // no fallback message
  }

  std::ostringstream cpu;
  CHECK(!choose_cuda("cpu", false, true, classify_cuda_answer(kOldDriver), cpu));
  CHECK_THROWS_AS(choose_cuda("cpu", true, true, DeviceProbe{}, cpu), InputError);
  CHECK(!choose_cuda("auto", false, false, DeviceProbe{}, cpu));
  CHECK(has(cpu.str(), "no CUDA backend"));
  CHECK_THROWS_AS(choose_cuda("cuda", false, false, DeviceProbe{}, cpu), InputError);
}

TEST_CASE("GPU suite: skipped (77) only without a device, a CUDA error fails naming it") {
  const test::GpuSuiteGate none = test::gpu_suite_gate(classify_cuda_answer(kNoDevice), false);
  CHECK(!none.run);
  CHECK(none.exit_code == 77);
  CHECK(has(none.line, "skipped"));
  CHECK(test::gpu_suite_gate(classify_cuda_answer(kNoDriver), false).exit_code == 77);
  CHECK(test::gpu_suite_gate(classify_cuda_answer(kNoDevice), true).exit_code == 1);

  for (const CudaRuntimeAnswer* a : {&kOldDriver, &kStub}) {
    for (const bool require : {false, true}) {
      const test::GpuSuiteGate g = test::gpu_suite_gate(classify_cuda_answer(*a), require);
      CHECK(!g.run);
      CHECK(g.exit_code == 1);
      CHECK(has(g.line, a->error_name));
      CHECK(has(g.line, "failed"));
    }
  }
  CudaRuntimeAnswer one;
  one.ok = true;
  one.devices = 1;
  CHECK(test::gpu_suite_gate(classify_cuda_answer(one), true).run);
}

}  // namespace
