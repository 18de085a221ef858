/*
 * atomic_file.hpp — whole-file reads and crash-safe whole-file writes.
 *
 * write_file_atomic() writes to a temporary file beside the target, fsyncs it, renames
 * it over the target and fsyncs the directory: at every instant the target is either
 * the old complete file or the new complete file, whatever kills the process. On any
 * failure the temporary file is removed, the target is untouched, and gan::Error says
 * which path failed and the system's reason (e.g. "No space left on device").
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gan {

void write_file_atomic(const std::string& path, const void* data, size_t bytes);
inline void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

// Reads a whole file; InputError naming the path when it cannot be opened or read, or
// when it is larger than max_bytes.
std::vector<uint8_t> read_file(const std::string& path, size_t max_bytes = size_t(1) << 32);

// Creates `dir` (and its parents) if needed and proves it writable by creating and
// removing a probe file; Error naming the directory and the reason otherwise.
void ensure_writable_dir(const std::string& dir);

// Appends text to a file (creating it), flushing to the OS; used for metrics.jsonl.
class AppendFile {
 public:
  explicit AppendFile(const std::string& path);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  void write(const std::string& text);  // throws Error with path and reason

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace gan
