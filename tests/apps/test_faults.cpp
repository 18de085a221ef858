/*
 * test_faults.cpp — failures from outside: writes that fail, output directories that
 * cannot be used, non-finite values, sizes that cannot fit, and the malformed inputs the
 * fuzzers (tests/fuzz/) found.
 *
 * "Disk full" is a file size limit (RLIMIT_FSIZE, with SIGXFSZ ignored, so a write fails
 * with EFBIG), which holds for root too, unlike permission bits. Child processes run the
 * real binary with their output on pipes (which the limit does not cover), and report
 * their peak resident memory, so that "refused before any large allocation" is measured.
 */
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/io/atomic_file.hpp"
#include "engine/checkpoint.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "engine/io/safetensors.hpp"
#include "engine/train_config.hpp"
#include "engine/trainer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/support/process_runner.hpp"
#include "tests/support/safetensors_copy.hpp"

namespace {

using namespace gan;
using namespace gan::test;
namespace fs = std::filesystem;

struct Child {
  int status = -1;  // exit status, or 128 + signal
  std::string out, err;
  long max_rss_mib = 0;
};

// Runs gan_cuda with `args`; a file size limit of `fsize` bytes (SIGXFSZ ignored) when
// given. Output is read from pipes until the child closes them.
Child run_child(const std::vector<std::string>& args, rlim_t fsize = RLIM_INFINITY) {
  std::vector<std::string> store = {GAN_BINARY};
  store.insert(store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : store) argv.push_back(s.data());
  argv.push_back(nullptr);
  int out_pipe[2], err_pipe[2];
  REQUIRE(::pipe(out_pipe) == 0);
  REQUIRE(::pipe(err_pipe) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) ::close(fd);
    if (fsize != RLIM_INFINITY) {
      ::signal(SIGXFSZ, SIG_IGN);
      const struct rlimit lim = {fsize, fsize};
      if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(126);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  Child c;
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&c.out, &c.err};
  int open_pipes = 2;
  while (open_pipes > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      FAIL("poll failed");
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  int st = 0;
  struct rusage ru {};
  while (::wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
  }
  c.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  c.max_rss_mib = ru.ru_maxrss / 1024;
  return c;
}

void write_small_data(const std::string& dir, int count) {
  static const Dataset all = load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Train);
  fs::create_directories(dir);
  write_idx(dir + "/train-images-idx3-ubyte",
            {uint32_t(count), uint32_t(all.rows), uint32_t(all.cols)}, all.images.data());
  write_idx(dir + "/train-labels-idx1-ubyte", {uint32_t(count)}, all.labels.data());
}

// Flags of a tiny run; `extra` holds flag-value pairs that replace a default or are added.
std::vector<std::string> tiny_run(const std::string& data, const std::string& out, int epochs,
                                  const std::vector<std::string>& extra = {}) {
  std::vector<std::string> a = {"--device", "cpu", "--data", data, "--out", out, "--epochs",
                                std::to_string(epochs), "--batch-size", "32", "--z-dim", "8",
                                "--g-widths", "16", "--d-widths", "16", "--log-every", "5",
                                "--sample-every", "100000", "--seed", "3"};
  for (size_t i = 0; i + 1 < extra.size(); i += 2) {
    auto it = std::find(a.begin(), a.end(), extra[i]);
    if (it != a.end()) {
      *(it + 1) = extra[i + 1];
    } else {
      a.push_back(extra[i]);
      a.push_back(extra[i + 1]);
    }
  }
  return a;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::vector<std::string> temporaries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (contains(name, ".tmp.")) out.push_back(name);
  }
  return out;
}

// Sets a file size limit (and ignores SIGXFSZ) in this process for its lifetime.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_) == 0);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    const struct rlimit lim = {bytes, old_.rlim_max};
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  struct rlimit old_ {};
  void (*old_handler_)(int) = nullptr;
};

// ---- writes that fail ------------------------------------------------------------

TEST_CASE("write_file_atomic: a failed write names the path and the reason, the old file stays") {
  TempDir tmp("atomic");
  const std::string path = tmp / "file.bin";
  write_file_atomic(path, std::string("old contents"));
  const std::string big(64 * 1024, 'x');
  {
    FileSizeLimit limit(4096);  // "disk full" after 4 KiB
    try {
      write_file_atomic(path, big);
      FAIL("a write beyond the file size limit succeeded");
    } catch (const InputError& e) {
      FAIL("a failed write is a runtime error, not bad input: " << e.what());
    } catch (const Error& e) {
      CHECK(contains(e.what(), path));
      CHECK(contains(e.what(), std::strerror(EFBIG)));
    }
  }
  CHECK(read_file(path) == std::vector<uint8_t>{'o', 'l', 'd', ' ', 'c', 'o', 'n', 't', 'e',
                                                 'n', 't', 's'});
  CHECK(temporaries(tmp.path()).empty());

  {
    FileSizeLimit limit(10);
    AppendFile log(tmp / "log.txt");
    log.write("0123456789");
    CHECK_THROWS_WITH_AS(log.write("more"), doctest::Contains((tmp / "log.txt").c_str()), Error);
  }

  // a parent that is a regular file: bad input naming the path and the reason
  const std::string under_file = path + "/x.bin";
  CHECK_THROWS_WITH_AS(write_file_atomic(under_file, std::string("x")),
                       doctest::Contains(under_file.c_str()), InputError);
  CHECK_THROWS_WITH_AS(write_file_atomic(under_file, std::string("x")),
                       doctest::Contains(std::strerror(ENOTDIR)), InputError);
  CHECK(read_file(path).size() == 12);
}

TEST_CASE("training: a failed checkpoint or metrics write is reported, the last checkpoint stays") {
  TempDir tmp("diskfull");
  const std::string data = tmp / "data";
  write_small_data(data, 512);
  const std::string out = tmp / "run", ckpt = out + "/checkpoint.safetensors";
  const std::vector<std::string> wider = {"--g-widths", "64", "--d-widths", "64"};
  REQUIRE(run_child(tiny_run(data, out, 1, wider)).status == 0);
  const std::vector<uint8_t> first = read_file(ckpt);
  REQUIRE(first.size() > 1024 * 1024);

  // the second epoch's checkpoint (1.2 MB) does not fit under a 512 KiB limit; its sample
  // grid and animation (about 60 and 130 KB) do
  std::vector<std::string> resume = wider;
  resume.insert(resume.end(), {"--resume", ckpt});
  const Child c = run_child(tiny_run(data, out, 2, resume), 512 * 1024);
  INFO(c.out, c.err);
  CHECK(c.status == 1);
  CHECK(contains(c.err, "cannot write " + ckpt));
  CHECK(contains(c.err, std::strerror(EFBIG)));
  CHECK(read_file(ckpt) == first);
  CHECK(load_checkpoint(ckpt).state.epoch == 1);
  CHECK(temporaries(out).empty());

  // metrics.jsonl cannot take its first record
  const Child m = run_child(tiny_run(data, tmp / "fresh", 1), 100);
  INFO(m.out, m.err);
  CHECK(m.status == 1);
  CHECK(contains(m.err, "cannot append to " + tmp / "fresh/metrics.jsonl"));
  CHECK(contains(m.err, std::strerror(EFBIG)));
  CHECK_FALSE(fs::exists(tmp / "fresh/checkpoint.safetensors"));

  // and the run continues from the checkpoint that survived
  const Child r = run_child(tiny_run(data, out, 2, resume));
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(load_checkpoint(ckpt).state.epoch == 2);
}

TEST_CASE("--checkpoint-every N writes the first checkpoint after epoch N, not before") {
  // A checkpoint that cannot be written stops the run at the first save, so the last
  // metrics record says when that was: after epoch 3 of 4 with --checkpoint-every 3.
  TempDir tmp("every");
  const std::string data = tmp / "data";
  write_small_data(data, 512);  // 16 iterations per epoch
  const std::vector<std::string> every3 = {"--g-widths", "64", "--d-widths", "64",
                                           "--log-every", "1", "--checkpoint-every", "3"};
  const Child c = run_child(tiny_run(data, tmp / "run", 4, every3), 512 * 1024);
  INFO(c.out, c.err);
  CHECK(c.status == 1);
  CHECK(contains(c.err, "cannot write " + tmp / "run/checkpoint.safetensors"));
  std::ifstream metrics(tmp / "run/metrics.jsonl");
  std::string line, last;
  while (std::getline(metrics, line)) last = line;
  REQUIRE_FALSE(last.empty());
  CHECK(nlohmann::json::parse(last)["step"].get<int64_t>() == 3 * 16);

  // without the limit the run ends with the last epoch's checkpoint
  const Child ok = run_child(tiny_run(data, tmp / "ok", 4, every3));
  INFO(ok.err);
  REQUIRE(ok.status == 0);
  CHECK(load_checkpoint(tmp / "ok/checkpoint.safetensors").state.epoch == 4);
}

TEST_CASE("an output directory that cannot be used is refused before training, naming it") {
  TempDir tmp("outdir");
  const std::string data = tmp / "data";
  write_small_data(data, 512);
  write_file_atomic(tmp / "file", std::string("a regular file"));

  const std::string under_file = tmp / "file/run";  // its parent is a regular file
  const Child a = run_child(tiny_run(data, under_file, 1));
  INFO(a.err);
  CHECK(a.status == 2);
  CHECK(contains(a.err, under_file));
  CHECK(contains(a.err, std::strerror(ENOTDIR)));
  CHECK_FALSE(contains(a.out, "training on"));

  const Child b = run_child(tiny_run(data, tmp / "file", 1));  // --out is a regular file
  INFO(b.err);
  CHECK(b.status == 2);
  CHECK(contains(b.err, tmp / "file"));
  CHECK_FALSE(contains(b.out, "training on"));

  if (::geteuid() != 0) {  // permission bits do not stop root
    fs::create_directories(tmp / "readonly");
    fs::permissions(tmp / "readonly", fs::perms::owner_read | fs::perms::owner_exec);
    const Child c = run_child(tiny_run(data, tmp / "readonly", 1));
    INFO(c.err);
    CHECK(c.status == 2);
    CHECK(contains(c.err, tmp / "readonly"));
    CHECK(contains(c.err, std::strerror(EACCES)));
  }

  // a run stopped before its first checkpoint: named as such, nothing overwritten
  fs::create_directories(tmp / "early");
  write_file_atomic(tmp / "early/metrics.jsonl", std::string("{\"step\": 5}\n"));
  const Child d = run_child(tiny_run(data, tmp / "early", 1));
  CHECK(d.status == 2);
  CHECK(contains(d.err, "stopped before its first checkpoint (" + tmp / "early/metrics.jsonl" +
                        "); remove it or choose another --out"));
  CHECK(read_file(tmp / "early/metrics.jsonl").size() == 12);
}

// ---- non-finite values -----------------------------------------------------------

TEST_CASE("--nan-policy: abort names the network and step, skip counts, checkpoints stay finite") {
  TempDir tmp("nanpolicy");
  const std::string data = tmp / "data";
  write_small_data(data, 512);

  const Child a = run_child(tiny_run(data, tmp / "abort", 1, {"--lr", "1e30"}));
  INFO(a.err);
  CHECK(a.status == 1);
  CHECK((contains(a.err, "non-finite generator") || contains(a.err, "non-finite discriminator")));
  CHECK(contains(a.err, "at step "));
  CHECK(contains(a.err, "No checkpoint was written"));
  CHECK_FALSE(fs::exists(tmp / "abort/checkpoint.safetensors"));

  const Child s = run_child(tiny_run(data, tmp / "skip", 2, {"--lr", "1e30", "--nan-policy",
                                                             "skip"}));
  INFO(s.err);
  REQUIRE(s.status == 0);
  const Checkpoint ck = load_checkpoint(tmp / "skip/checkpoint.safetensors");  // finite
  std::ifstream metrics(tmp / "skip/metrics.jsonl");
  std::string line, last;
  while (std::getline(metrics, line)) last = line;
  const auto j = nlohmann::json::parse(last);
  CHECK(j["skipped_g"].get<int64_t>() == ck.state.counters.skipped[0]);
  CHECK(j["skipped_d"].get<int64_t>() == ck.state.counters.skipped[1]);
  CHECK(ck.state.counters.skipped[0] + ck.state.counters.skipped[1] > 0);
  CHECK(ck.state.counters.adam_step[0] + ck.state.counters.skipped[0] == 2 * 16);
  CHECK(contains(s.out, "warning: skipped"));

  // resumed with --nan-policy abort: the first failure in the checkpoint is older than this
  // run's, whose step is known to lie after the previous record; with a record every step
  // that is one step, the one the last record names
  const std::string skip_ck = tmp / "skip/checkpoint.safetensors";
  const std::vector<uint8_t> skip_bytes = read_file(skip_ck);
  const Child r = run_child(tiny_run(data, tmp / "skip", 3, {"--lr", "1e30", "--nan-policy",
                                                             "abort", "--log-every", "1",
                                                             "--resume", skip_ck}));
  INFO(r.err);
  REQUIRE(r.status == 1);
  std::ifstream resumed_metrics(tmp / "skip/metrics.jsonl");
  while (std::getline(resumed_metrics, line)) last = line;
  const int64_t failed = nlohmann::json::parse(last)["step"].get<int64_t>();
  CHECK(failed > 2 * 16);
  CHECK(contains(r.err, "loss or gradient at step " + std::to_string(failed) + " (epoch 3)"));
  CHECK(contains(r.err, "The last good checkpoint " + skip_ck + " was left as it was."));
  CHECK(read_file(skip_ck) == skip_bytes);

  // the checkpoint writer itself refuses non-finite values, and writes nothing
  Checkpoint bad = ck;
  bad.state.params[1][3] = std::nanf("");
  const std::string path = tmp / "bad.safetensors";
  CHECK_THROWS_WITH_AS(save_checkpoint(path, bad.config, bad.state),
                       doctest::Contains("non-finite"), Error);
  CHECK_FALSE(fs::exists(path));
}

// ---- sizes that cannot fit -------------------------------------------------------

TEST_CASE("sizes that cannot fit are refused with the sizes named, before any large allocation") {
  TempDir tmp("sizes");
  const std::string data = tmp / "data";
  write_small_data(data, 512);

  // one buffer beyond 32-bit indexing: [2 x 65536, 65536]
  const Child a = run_child(tiny_run(data, tmp / "a", 1, {"--batch-size", "65536",
                                                          "--d-widths", "65536"}));
  INFO(a.err);
  CHECK(a.status == 2);
  CHECK(contains(a.err, "does not fit"));
  CHECK(contains(a.err, "batch 65536"));
  CHECK(contains(a.err, "--d-widths 65536"));
  CHECK(contains(a.err, "one of its buffers would hold 8589934592 values, more than the "
                        "2147483647 a buffer may hold"));
  CHECK(a.max_rss_mib < 1024);

  // every buffer indexable (at most [2 x 65536, 8192]), but 1000 such layers: 4 TiB
  std::string widths = "8192,1";
  for (int i = 1; i < 1000; ++i) widths += ",8192,1";
  const Child b = run_child(tiny_run(data, tmp / "b", 1, {"--batch-size", "65536",
                                                          "--d-widths", widths}));
  INFO(b.err);
  CHECK(b.status == 2);
  CHECK(contains(b.err, "does not fit"));
  CHECK(contains(b.err, "GiB"));
  CHECK(contains(b.err, "(2000 layers)"));
  CHECK(b.max_rss_mib < 1024);
  CHECK_FALSE(fs::exists(tmp / "b/checkpoint.safetensors"));

  // the same check guards every Trainer (sample, tests), not only the command line
  TrainConfig cfg;
  cfg.spec.g_widths = std::vector<int>(100, 32768);  // one arena of 10^11 parameters
  const auto backend = make_cpu_backend();
  CHECK(backend->memory_budget() > (size_t(64) << 20));
  CHECK_THROWS_WITH_AS(Trainer(*backend, cfg, false), doctest::Contains("does not fit"),
                       InputError);
  cfg.spec.g_widths = {16};
  CHECK_NOTHROW(Trainer(*backend, cfg, false));
}

// ---- checkpoints that do not fit the run they continue ----------------------------

// A copy of the checkpoint `src` with one field of its JSON metadata `key` set to `value`.
void patch_checkpoint(const std::string& src, const std::string& dst, const std::string& key,
                      const std::string& field, const std::string& value) {
  const SafetensorsFile f = SafetensorsFile::read(src);
  SafetensorsWriter w = copy_safetensors(f);
  nlohmann::json j = nlohmann::json::parse(f.meta(key));
  j[field] = nlohmann::json::parse(value);
  w.set_metadata(key, j.dump());
  w.write(dst);
}

TEST_CASE("--resume refuses a batch cursor outside the epoch and counters out of range") {
  TempDir tmp("cursor");
  const std::string data = tmp / "data";
  write_small_data(data, 512);  // 16 iterations per epoch
  const std::string ckpt = tmp / "run/checkpoint.safetensors";
  REQUIRE(run_child(tiny_run(data, tmp / "run", 1)).status == 0);
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"batch_cursor", "17"},
           {"batch_cursor", "1000000"},
           {"iteration", "281474976710656"},
           {"epoch", "281474976710656"},
           {"skipped", "[281474976710656, 0]"},
           {"skipped", "[0, 281474976710656]"}}) {
    CAPTURE(field);
    CAPTURE(value);
    patch_checkpoint(ckpt, tmp / "bad.safetensors", "state", field, value);
    const Child c = run_child(tiny_run(data, tmp / "other", 2, {"--resume",
                                                                tmp / "bad.safetensors"}));
    INFO(c.err);
    CHECK(c.status == 2);
    CHECK(contains(c.err, tmp / "bad.safetensors"));
    CHECK_FALSE(fs::exists(tmp / "other"));
  }
  // Adam's step counters are tensors, not JSON: one network's at a time
  for (const std::string net : {"G", "D"}) {
    CAPTURE(net);
    const std::string step = "adam." + net + ".step";
    copy_safetensors(ckpt, [&](const std::string& name, SafetensorsWriter& w, const StTensor&) {
      if (name != step) return false;
      w.add_i64_scalar(step, int64_t{1} << 48);
      return true;
    }).write(tmp / "bad.safetensors");
    const Child c = run_child(tiny_run(data, tmp / "other", 2, {"--resume",
                                                                tmp / "bad.safetensors"}));
    INFO(c.err);
    CHECK(c.status == 2);
    CHECK(contains(c.err, "out of range"));
    CHECK_FALSE(fs::exists(tmp / "other"));
  }
  patch_checkpoint(ckpt, tmp / "mid.safetensors", "state", "batch_cursor", "3");  // in range
  const Child ok = run_child(tiny_run(data, tmp / "other", 2, {"--resume",
                                                               tmp / "mid.safetensors"}));
  INFO(ok.err);
  CHECK(ok.status == 0);
}

// ---- inputs found by fuzzing: tests/fuzz/corpus/<target>/regress_* -------------------

std::string corpus(const std::string& target, const std::string& name) {
  return std::string(GAN_SOURCE_DIR) + "/tests/fuzz/corpus/" + target + "/" + name;
}

TEST_CASE("fuzz regressions: configuration numbers out of range are refused, not converted") {
  // fuzz_cli: a seed beyond uint64 is parsed as a float; converting it was undefined
  const std::vector<uint8_t> found =
      read_file(corpus("fuzz_cli", "regress_seed_beyond_uint64.json"));
  CHECK_THROWS_WITH_AS(train_config_from_json(std::string(found.begin(), found.end())),
                       doctest::Contains("seed"), InputError);

  const std::string valid = to_json(TrainConfig{});
  CHECK(to_json(train_config_from_json(valid)) == valid);
  auto with = [&](const char* key, const std::string& value) {
    nlohmann::json j = nlohmann::json::parse(valid);
    j[key] = nlohmann::json::parse(value);
    return j.dump();
  };
  // integers beyond int were wrapped silently (2^32 + 2 read as 2)
  CHECK_THROWS_WITH_AS(train_config_from_json(with("z_dim", "4294967298")),
                       doctest::Contains("z_dim"), InputError);
  CHECK_THROWS_WITH_AS(train_config_from_json(with("g_widths", "[16, 4294967312]")),
                       doctest::Contains("g_widths"), InputError);
  CHECK_THROWS_AS(train_config_from_json(with("batch_size", "-1e300")), InputError);
  CHECK_THROWS_AS(train_config_from_json(with("d_steps", "2.5")), InputError);
  CHECK_THROWS_AS(train_config_from_json(with("lr", "1e300")), InputError);
}

TEST_CASE("fuzz regressions: crafted checkpoints are refused before allocating what they claim") {
  TempDir tmp("craftedckpt");
  // g_widths [65536, 65536] in a 4 KiB file: the loader sized 16 GiB arrays from the
  // configuration before looking at the tensors
  const std::string wide = corpus("fuzz_safetensors", "regress_config_65536_widths.safetensors");
  CHECK_THROWS_WITH_AS(load_checkpoint(wide), doctest::Contains("expected F32 [65536, 2]"),
                       InputError);
  const Child a = run_child({"sample", "--checkpoint", wide, "--out", tmp / "s.png", "--device",
                             "cpu"});
  INFO(a.err);
  CHECK(a.status == 2);
  CHECK(contains(a.err, wide));
  CHECK(a.max_rss_mib < 1024);
  CHECK_FALSE(fs::exists(tmp / "s.png"));
  // counters that are not int64 integers (converting 1e300 was undefined)
  CHECK_THROWS_WITH_AS(load_checkpoint(corpus("fuzz_safetensors",
                                              "regress_state_epoch_1e300.safetensors")),
                       doctest::Contains("state"), InputError);
  // the seed checkpoint itself loads
  CHECK(load_checkpoint(corpus("fuzz_safetensors", "tiny_checkpoint.safetensors")).state.epoch ==
        1);
}

TEST_CASE("fuzz regressions: a small gzip IDX whose header claims 2 GiB does not allocate it") {
  // [2739000, 28, 28] = 2147376000 bytes claimed in a 132-byte file holding 100 of them
  const std::string claim = corpus("fuzz_idx", "regress_gzip_claims_2gib.idx.gz");
  CHECK_THROWS_WITH_AS(read_idx(claim, 3), doctest::Contains("the payload has 100"), InputError);
  TempDir tmp("gzipclaim");
  fs::create_directories(tmp / "data");
  fs::copy_file(claim, tmp / "data/train-images-idx3-ubyte.gz");
  fs::copy_file(std::string(GAN_SOURCE_DIR) + "/data/mnist/train-labels-idx1-ubyte.gz",
                tmp / "data/train-labels-idx1-ubyte.gz");
  const Child c = run_child(tiny_run(tmp / "data", tmp / "run", 1));
  INFO(c.err);
  CHECK(c.status == 2);
  CHECK(contains(c.err, "train-images-idx3-ubyte.gz: header says 2739000 images"));
  CHECK(c.max_rss_mib < 512);
}

}  // namespace
