/*
 * safetensors_copy.hpp — a writer that holds a copy of a safetensors file (its tensors and
 * metadata) to be changed before writing: the base of every crafted checkpoint in the tests.
 */
#pragma once

#include <functional>
#include <string>

#include "engine/io/safetensors.hpp"

namespace gan::test {

// Returns (true) when it has handled the tensor `name` itself: added a changed one to the
// writer, or left it out.
using TensorEdit = std::function<bool(const std::string& name, SafetensorsWriter& w,
                                      const StTensor& t)>;

// A writer holding every tensor and metadata entry of the file `f`, except the tensors that
// `edit` handles; change metadata with set_metadata before writing.
inline SafetensorsWriter copy_safetensors(const SafetensorsFile& f, const TensorEdit& edit = {}) {
  SafetensorsWriter w;
  for (const std::string& name : f.names()) {
    const StTensor& t = f.get(name);
    if (edit && edit(name, w, t)) continue;
    w.add(name, t.dtype, t.shape, t.bytes.data());
  }
  for (const auto& [k, v] : f.metadata()) w.set_metadata(k, v);
  return w;
}

// The same for the file at `path`.
inline SafetensorsWriter copy_safetensors(const std::string& path, const TensorEdit& edit = {}) {
  return copy_safetensors(SafetensorsFile::read(path), edit);
}

}  // namespace gan::test
