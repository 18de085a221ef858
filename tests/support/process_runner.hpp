/*
 * process_runner.hpp — runs the real gan_cuda binary as a child process for the tests.
 *
 * run_gan() captures stdout, stderr and the exit status (128 + signal when killed);
 * spawn_gan()/kill_after() let the interruption tests stop a real training run.
 */
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace gan::test {

struct ProcessResult {
  int status = -1;  // exit status, or 128 + signal number
  std::string out, err;
};

ProcessResult run_gan(const std::vector<std::string>& args);

// Starts gan_cuda with stdout/stderr to files; returns the pid.
pid_t spawn_gan(const std::vector<std::string>& args, const std::string& out_file,
                const std::string& err_file);
// Waits for the child; returns its exit status, or 128 + signal number.
int wait_child(pid_t pid);

// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The first kSmallDataCount digits of the bundled training set as raw IDX files, written
// once per test process into a temporary directory (removed at exit).
constexpr int kSmallDataCount = 10000;
const std::string& small_data_dir();

// Flags of a small, fast model for end-to-end runs on small_data_dir(). `overrides` are
// flags (with their values) that replace a default of the same name or are appended.
std::vector<std::string> small_model_flags(const std::vector<std::string>& overrides = {});

}  // namespace gan::test
