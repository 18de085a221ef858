/*
 * safetensors.hpp — a strict reader and a writer of the safetensors container format.
 *
 * Layout (https://github.com/huggingface/safetensors): an 8-byte little-endian u64 N, then
 * N bytes of UTF-8 JSON
 *   {"__metadata__": {str: str, ...},
 *    "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
 * then the byte buffer; offsets are relative to the start of the buffer and the tensors'
 * byte ranges tile it exactly (no gaps, overlaps or trailing bytes). Tensor bytes are
 * row-major, little-endian.
 *
 * The writer lays tensors out contiguously in the order they were added, names them in the
 * header in that order after "__metadata__" (omitted when empty), and pads the header with
 * spaces to a multiple of 8 bytes, as the reference implementation does; the output is a
 * pure function of the input. The reader checks every rule of the format and refuses a
 * violation with an InputError naming the file and what is wrong; it copies tensor bytes
 * out, so it assumes no alignment.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gan {

enum class DType { F32, F64, I64, I32, U8 };
const char* dtype_name(DType d);  // "F32", "F64", "I64", "I32", "U8"
size_t dtype_size(DType d);       // bytes per element

struct StTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // [] is a scalar (one element)
  std::vector<uint8_t> bytes;  // numel() * dtype_size(dtype) bytes, little-endian
  size_t numel() const;
};

class SafetensorsWriter {
 public:
  // Copies numel(shape) * dtype_size(dtype) bytes from data (which may be null when that is
  // zero). gan::Error on a duplicate or reserved name, a negative dimension or a size
  // overflow.
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data);
  void add_f32(const std::string& name, std::vector<int64_t> shape, const float* data);
  void add_i64_scalar(const std::string& name, int64_t v);  // shape []
  void set_metadata(const std::string& key, const std::string& value);  // replaces
  std::vector<uint8_t> serialize() const;
  void write(const std::string& path) const;  // write_file_atomic

 private:
  std::vector<std::pair<std::string, StTensor>> tensors_;  // in the order added
  std::map<std::string, std::string> metadata_;
};

class SafetensorsFile {
 public:
  static SafetensorsFile read(const std::string& path);  // read_file + parse
  // `name` is the file name used in error messages.
  static SafetensorsFile parse(const uint8_t* bytes, size_t n, const std::string& name);

  bool has(const std::string& name) const;
  const StTensor& get(const std::string& name) const;  // InputError "<file>: no tensor 'x'"
  // get() plus checks that the dtype is F32 and the shape is exactly `shape`; InputError
  // naming the file, the tensor, and the expected and found dtype/shape otherwise.
  std::vector<float> f32(const std::string& name, const std::vector<int64_t>& shape) const;
  // get() plus checks that the dtype is I64 and the shape is [].
  int64_t i64_scalar(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::string meta(const std::string& key) const;  // InputError if absent
  // Tensor names by position in the buffer (ties between zero-size tensors broken by name).
  std::vector<std::string> names() const { return order_; }
  const std::string& file_name() const { return file_; }

 private:
  std::string file_;
  std::map<std::string, StTensor> tensors_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace gan
