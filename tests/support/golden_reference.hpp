/*
 * golden_reference.hpp — reader (and writer, for its own tests) of the golden state files
 * that tools/make_reference.py writes from PyTorch into tests/data/golden/.
 *
 * File format (little-endian), version 1:
 *   char[8]  magic "GANGOLD\0"
 *   u32      version = 1
 *   u32      tensor count
 *   per tensor:
 *     u32    name length (1..4096), then the name bytes (no terminator)
 *     u32    dtype: 0 = f32, 1 = u8
 *     u32    rank (0..8), then u64 dims[rank]
 *     data   prod(dims) elements of the dtype, row-major
 * The file ends right after the last tensor. Names are unique. The tensor "config" (u8)
 * holds the TrainConfig JSON as gan::to_json writes it; tools/make_reference.py lists the
 * other names.
 *
 * Reading is strict: a bad magic, another version, an unknown dtype, a rank over 8, a
 * duplicate name, a dimension or size over 2^40 elements, a truncated file or trailing
 * bytes are each an InputError naming the file and saying what is wrong.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gan {

enum class GoldenDtype : uint32_t { F32 = 0, U8 = 1 };

struct GoldenTensor {
  std::string name;
  GoldenDtype dtype = GoldenDtype::F32;
  std::vector<int64_t> shape;
  std::vector<float> f32;   // F32 data
  std::vector<uint8_t> u8;  // U8 data
  size_t numel() const;
};

class GoldenFile {
 public:
  static constexpr uint32_t kVersion = 1;

  // `name` is the file name used in error messages.
  static GoldenFile parse(const uint8_t* bytes, size_t n, const std::string& name);
  static GoldenFile read(const std::string& path);

  const std::string& name() const { return name_; }
  const std::vector<GoldenTensor>& tensors() const { return tensors_; }
  bool has(const std::string& tensor) const;
  // InputError naming the file and the tensor when it is missing.
  const GoldenTensor& get(const std::string& tensor) const;
  // An f32 tensor's data; InputError when it is missing, not f32 or not of `shape`.
  const std::vector<float>& f32(const std::string& tensor, const std::vector<int64_t>& shape) const;
  // An f32 scalar (rank 0).
  float scalar(const std::string& tensor) const;
  // A u8 tensor's bytes as a string (the "config" JSON).
  std::string text(const std::string& tensor) const;

 private:
  std::string name_;
  std::vector<GoldenTensor> tensors_;
};

// The bytes of a golden file holding `tensors` in order (the inverse of parse).
std::vector<uint8_t> encode_golden(const std::vector<GoldenTensor>& tensors,
                                   uint32_t version = GoldenFile::kVersion);

}  // namespace gan
