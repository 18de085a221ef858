/*
 * fuzz_safetensors.cpp — libFuzzer target for the safetensors reader and the checkpoint
 * loader built on it (engine/io/safetensors.hpp, engine/checkpoint.hpp).
 *
 * The input is a file's bytes. SafetensorsFile::parse must either throw gan::InputError or
 * return a file whose every tensor holds numel * dtype size bytes and reads back through
 * the typed accessors. Inputs the container accepts are also written to a private
 * temporary file and opened with load_checkpoint, which must either throw InputError or
 * return a state of the sizes its configuration implies, with finite values. Anything
 * else (another exception, a sanitizer report, a hang, an allocation beyond libFuzzer's
 * limit) is a bug.
 *
 * Seeds: tests/fuzz/corpus/fuzz_safetensors/. Built and run by tools/ci/run_fuzz.sh.
 */
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/io/atomic_file.hpp"
#include "engine/checkpoint.hpp"
#include "engine/base/error.hpp"
#include "engine/model_spec.hpp"
#include "engine/io/safetensors.hpp"

namespace {

std::string g_path;  // this process's scratch checkpoint file

void remove_scratch() {
  if (!g_path.empty()) ::unlink(g_path.c_str());
}

void check_loaded(const gan::Checkpoint& ck) {
  const gan::NetLayout nets[2] = {gan::layout_generator(ck.config.spec),
                                  gan::layout_discriminator(ck.config.spec)};
  for (int q = 0; q < 2; ++q)
    for (const auto* v : {&ck.state.params[q], &ck.state.adam_m[q], &ck.state.adam_v[q]}) {
      if (v->size() != nets[q].param_count) std::abort();
      for (float x : *v)
        if (!std::isfinite(x)) std::abort();
    }
  if (ck.state.bn_stats.size() != nets[0].stat_count) std::abort();
  if (ck.state.epoch < 0 || ck.state.counters.iteration < 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "fuzz_ckpt_XXXXXX").string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) std::abort();
  ::close(fd);
  g_path = tmpl;
  std::atexit(remove_scratch);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const gan::SafetensorsFile f = gan::SafetensorsFile::parse(data, size, "fuzz.safetensors");
    for (const std::string& name : f.names()) {
      const gan::StTensor& t = f.get(name);
      if (t.bytes.size() != t.numel() * gan::dtype_size(t.dtype)) std::abort();
      if (t.dtype == gan::DType::F32 && f.f32(name, t.shape).size() != t.numel()) std::abort();
      if (t.dtype == gan::DType::I64 && t.shape.empty()) (void)f.i64_scalar(name);
    }
    for (const auto& kv : f.metadata())
      if (f.meta(kv.first) != kv.second) std::abort();
  } catch (const gan::InputError&) {
    return 0;  // the container is malformed: the checkpoint loader would refuse it too
  }
  gan::write_file_atomic(g_path, data, size);
  try {
    check_loaded(gan::load_checkpoint(g_path));
  } catch (const gan::InputError&) {
  }
  return 0;
}
