/*
 * process_runner.cpp — fork/exec of GAN_BINARY with captured output.
 */
#include "tests/support/process_runner.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "engine/io/idx.hpp"

namespace gan::test {

namespace {

std::vector<char*> make_argv(const std::vector<std::string>& args, std::vector<std::string>& store) {
  store.clear();
  store.push_back(GAN_BINARY);
  store.insert(store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : store) argv.push_back(s.data());
  argv.push_back(nullptr);
  return argv;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

pid_t spawn_gan(const std::vector<std::string>& args, const std::string& out_file,
                const std::string& err_file) {
  std::vector<std::string> store;
  std::vector<char*> argv = make_argv(args, store);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) ::_exit(126);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_child(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

ProcessResult run_gan(const std::vector<std::string>& args) {
  TempDir tmp("proc");
  const std::string out = tmp / "stdout", err = tmp / "stderr";
  ProcessResult r;
  r.status = wait_child(spawn_gan(args, out, err));
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

TempDir::TempDir(const std::string& tag) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("gan_test_" + tag + "_XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::add, ec);
  std::filesystem::remove_all(path_, ec);
}

const std::string& small_data_dir() {
  static const TempDir dir("small_data");
  static const bool written = [] {
    const Dataset all = load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Train);
    const int n = std::min(all.count, kSmallDataCount);
    write_idx(dir / "train-images-idx3-ubyte", {uint32_t(n), uint32_t(all.rows), uint32_t(all.cols)},
              all.images.data());
    write_idx(dir / "train-labels-idx1-ubyte", {uint32_t(n)}, all.labels.data());
    return true;
  }();
  (void)written;
  return dir.path();
}

std::vector<std::string> small_model_flags(const std::vector<std::string>& overrides) {
  std::vector<std::string> a = {"--device",   "cpu",   "--batch-size", "64",
                                "--z-dim",    "16",    "--g-widths",   "32,64",
                                "--d-widths", "64,32", "--log-every",  "20",
                                "--data",     small_data_dir()};
  for (size_t i = 0; i < overrides.size(); ++i) {
    const std::string& flag = overrides[i];
    const bool has_value = i + 1 < overrides.size() && overrides[i + 1].rfind("--", 0) != 0;
    bool replaced = false;
    for (size_t j = 0; j + 1 < a.size() && has_value; j += 2)
      if (a[j] == flag) {
        a[j + 1] = overrides[i + 1];
        replaced = true;
      }
    if (!replaced) {
      a.push_back(flag);
      if (has_value) a.push_back(overrides[i + 1]);
    }
    if (has_value) ++i;
  }
  return a;
}

}  // namespace gan::test
