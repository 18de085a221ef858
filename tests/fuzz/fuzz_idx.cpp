/*
 * fuzz_idx.cpp — libFuzzer target for the IDX parser (engine/io/idx.hpp), raw and gzip.
 *
 * The input is an IDX file as it would be read from disk; a gzip stream is recognised by
 * its magic 1f 8b exactly as read_idx does. Each input is parsed with every expected
 * rank the loader uses (0 = any, 1 = labels, 3 = images). The contract checked: parsing
 * either returns an array whose data size is the product of its dimensions, or throws
 * gan::InputError; anything else (another exception, a sanitizer report, a hang, an
 * allocation beyond libFuzzer's limit) is a bug.
 *
 * Seeds: tests/fuzz/corpus/fuzz_idx/. Built and run by tools/ci/run_fuzz.sh.
 */
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (int rank : {0, 1, 3}) {
    try {
      const gan::IdxArray a = gan::parse_idx(data, size, "fuzz.idx", rank);
      uint64_t count = 1;
      for (uint32_t d : a.dims) count *= d;
      if (a.dims.empty() || count != a.data.size()) std::abort();
      if (rank != 0 && a.dims.size() != static_cast<size_t>(rank)) std::abort();
    } catch (const gan::InputError&) {
    }
  }
  return 0;
}
