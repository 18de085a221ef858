/*
 * test_interrupt.cpp — stopping a real training process: SIGINT/SIGTERM, a second signal,
 * and SIGKILL at many moments (including while a checkpoint is being written).
 *
 * Every case trains a tiny model on a small slice of the bundled digits, first without
 * interruption (the reference), then stops child processes of the real binary at random
 * moments and continues them with --resume. The properties checked:
 *   - a first signal: exit status 128 + signal, a message naming the checkpoint and the
 *     step, a checkpoint of exactly that step;
 *   - a second signal: exit status 130 at once, the last checkpoint still loads;
 *   - SIGKILL anywhere: the checkpoint left behind loads and belongs to an epoch boundary,
 *     never goes back in time, and the run's leftovers are cleaned up on --resume;
 *   - in every case, --resume to the same number of epochs ends with a checkpoint that is
 *     byte-identical to the reference's, and metrics.jsonl holds the reference's records.
 * Delays come from a fixed-seed generator; where the scheduler puts the signal varies from
 * run to run, and each case checks that the situations it is about did occur.
 */
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/io/atomic_file.hpp"
#include "engine/checkpoint.hpp"
#include "engine/io/idx.hpp"
#include "tests/support/process_runner.hpp"

namespace {

using namespace gan;
using namespace gan::test;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kBatch = 32;

// The first `count` training digits as raw IDX files in `dir` (fast to load).
void write_small_data(const std::string& dir, int count) {
  static const Dataset all = load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Train);
  REQUIRE(count <= all.count);
  fs::create_directories(dir);
  write_idx(dir + "/train-images-idx3-ubyte",
            {uint32_t(count), uint32_t(all.rows), uint32_t(all.cols)}, all.images.data());
  write_idx(dir + "/train-labels-idx1-ubyte", {uint32_t(count)}, all.labels.data());
}

std::vector<std::string> tiny_run(const std::string& data, const std::string& out, int epochs,
                                  std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"--device",     "cpu",    "--data",     data,   "--out",
                                out,            "--epochs", std::to_string(epochs),
                                "--batch-size", std::to_string(kBatch), "--z-dim", "8",
                                "--g-widths",   "16",     "--d-widths", "16",   "--log-every",
                                "5",            "--sample-every", "100000", "--seed", "5"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<nlohmann::json> metrics_records(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// metrics.jsonl of a stopped-and-resumed run against the reference run's: steps never go
// back, every reference step is there, and a step's values are the reference's.
void check_metrics(const std::string& path, const std::vector<nlohmann::json>& reference) {
  std::map<int64_t, nlohmann::json> want;
  for (const auto& r : reference) want.emplace(r["step"].get<int64_t>(), r);
  const std::vector<nlohmann::json> got = metrics_records(path);
  REQUIRE(!got.empty());
  int64_t last = 0;
  std::map<int64_t, bool> seen;
  for (const auto& r : got) {
    const int64_t step = r["step"].get<int64_t>();
    CHECK(step >= last);
    last = step;
    seen[step] = true;
    const auto it = want.find(step);
    if (it == want.end()) continue;  // the record written at an interruption
    for (const char* key : {"d_loss", "g_loss", "d_real", "d_fake", "value", "g_fake",
                            "skipped_g", "skipped_d"}) {
      INFO("step ", step, " ", key);
      CHECK(r[key] == it->second[key]);
    }
  }
  for (const auto& [step, r] : want) {
    INFO("reference step ", step, " is missing");
    CHECK(seen.count(step) == 1);
  }
  CHECK(last == reference.back()["step"].get<int64_t>());
}

// Waits until the child's metrics.jsonl holds a record of step >= `step` (records come every
// 5 steps), so that a signal lands at a chosen point of the run whatever the machine's load.
void wait_for_step(const std::string& path, pid_t pid, int64_t step) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    std::ifstream f(path);
    int64_t last = -1;
    for (std::string line; std::getline(f, line);) {
      if (line.empty() || line.back() != '}') continue;
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.contains("step")) last = j["step"].get<int64_t>();
    }
    if (last >= step) return;
    REQUIRE(::kill(pid, 0) == 0);
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  FAIL("the child did not reach step " << step << " in 60 s");
}

// Names of temporary files (of cut-short writes of `target`) in `dir`.
std::vector<std::string> temporaries(const std::string& dir, const std::string& target) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(target + ".tmp.", 0) == 0) out.push_back(name);
  }
  return out;
}

struct Reference {
  std::vector<uint8_t> checkpoint;
  std::vector<nlohmann::json> metrics;
  double seconds = 0;
};

Reference run_reference(const std::vector<std::string>& args, const std::string& out) {
  const auto t0 = Clock::now();
  const ProcessResult r = run_gan(args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  Reference ref;
  ref.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  ref.checkpoint = read_file(out + "/checkpoint.safetensors");
  ref.metrics = metrics_records(out + "/metrics.jsonl");
  return ref;
}

// Continues the run in `out` to the end (fresh when it has no checkpoint) and checks that
// it ends exactly as the reference did.
void finish_and_compare(const std::vector<std::string>& args, const std::string& out,
                        const Reference& ref) {
  const std::string ckpt = out + "/checkpoint.safetensors";
  std::vector<std::string> a = args;
  if (fs::exists(ckpt)) {
    a.insert(a.end(), {"--resume", ckpt});
  } else {
    fs::remove_all(out);  // stopped before its first checkpoint: start again
  }
  const ProcessResult r = run_gan(a);
  INFO(r.out, r.err);
  REQUIRE(r.status == 0);
  CHECK(read_file(ckpt) == ref.checkpoint);
  check_metrics(out + "/metrics.jsonl", ref.metrics);
  CHECK(temporaries(out, "checkpoint.safetensors").empty());
  CHECK(temporaries(out, "metrics.jsonl").empty());
}

std::chrono::microseconds micros(double seconds) {
  return std::chrono::microseconds(static_cast<long long>(seconds * 1e6));
}

TEST_CASE("--resume removes the temporary files of cut-short writes, in both folders, and no others") {
  TempDir tmp("leftovers");
  const std::string data = tmp / "data";
  write_small_data(data, 512);
  const std::string out = tmp / "run", samples = out + "/samples";
  REQUIRE(run_gan(tiny_run(data, out, 1)).status == 0);
  // what a kill during a write leaves: "<name>.tmp.XXXXXX" beside the file it replaces
  const std::vector<std::string> ours = {
      out + "/checkpoint.safetensors.tmp.a1B2c3", out + "/metrics.jsonl.tmp.Zz09Yy",
      samples + "/epoch_001.png.tmp.Qw3rTy", samples + "/progress.gif.tmp.0o0o0o"};
  // not ours: another file's temporary, a suffix of the wrong length, a grid in the wrong
  // folder, a file that is not a temporary
  const std::vector<std::string> theirs = {
      out + "/notes.txt.tmp.a1B2c3", out + "/checkpoint.safetensors.tmp.a1B2c3d",
      out + "/epoch_001.png.tmp.Qw3rTy", samples + "/checkpoint.safetensors.tmp.a1B2c3",
      samples + "/epoch_001.png.bak"};
  fs::create_directories(samples);
  for (const auto& lists : {ours, theirs})
    for (const std::string& path : lists) std::ofstream(path) << "partial";
  const ProcessResult r =
      run_gan(tiny_run(data, out, 2, {"--resume", out + "/checkpoint.safetensors"}));
  INFO(r.out, r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("removed 4 temporary file(s)") != std::string::npos);
  for (const std::string& path : ours) CHECK_MESSAGE(!fs::exists(path), path);
  for (const std::string& path : theirs) CHECK_MESSAGE(fs::exists(path), path);
}

TEST_CASE("SIGINT/SIGTERM: the step ends, the checkpoint is named, exit 130/143, resume is exact") {
  TempDir tmp("interrupt");
  const std::string data = tmp / "data";
  write_small_data(data, 1024);  // 32 iterations per epoch
  const int epochs = 12;
  const std::vector<std::string> last_only = {"--checkpoint-every", "1000"};
  const Reference ref =
      run_reference(tiny_run(data, tmp / "ref", epochs, last_only), tmp / "ref");
  REQUIRE(ref.metrics.back()["step"] == epochs * 32);

  std::mt19937 rng(20140610);
  // a point in the first half of the run, then up to one step's time more
  std::uniform_int_distribution<int64_t> target(5, epochs * 32 / 2);
  std::uniform_real_distribution<double> delay(0.0, ref.seconds / (epochs * 32));
  bool mid_epoch = false;
  int trial = 0;
  for (int sig : {SIGINT, SIGTERM, SIGINT, SIGTERM}) {
    CAPTURE(sig);
    const std::string out = tmp / ("run" + std::to_string(trial++));
    const std::vector<std::string> args = tiny_run(data, out, epochs, last_only);
    const pid_t pid = spawn_gan(args, tmp / "stdout", tmp / "stderr");
    wait_for_step(out + "/metrics.jsonl", pid, target(rng));
    std::this_thread::sleep_for(micros(delay(rng)));
    REQUIRE(::kill(pid, sig) == 0);
    const int status = wait_child(pid);
    const std::string said = slurp(tmp / "stdout");
    INFO(said, slurp(tmp / "stderr"));
    CHECK(status == 128 + sig);

    const std::string ckpt = out + "/checkpoint.safetensors";
    const std::string tag = "interrupted (signal " + std::to_string(sig) + ") after step ";
    const size_t at = said.find(tag);
    REQUIRE(at != std::string::npos);
    const int64_t step = std::stoll(said.substr(at + tag.size()));
    CHECK(said.find("checkpoint written to " + ckpt) != std::string::npos);
    CHECK(said.find("--resume " + ckpt) != std::string::npos);
    const Checkpoint ck = load_checkpoint(ckpt);
    CHECK(ck.state.counters.iteration == step);
    CHECK(step < epochs * 32);
    mid_epoch = mid_epoch || ck.state.counters.batch_cursor != 0;

    finish_and_compare(args, out, ref);
  }
  CHECK(mid_epoch);  // at least one run was stopped (and resumed) in the middle of an epoch
}

TEST_CASE("a second signal stops at once, the last checkpoint still loads and resumes exactly") {
  TempDir tmp("interrupt2");
  const std::string data = tmp / "data";
  write_small_data(data, 512);  // 16 iterations per epoch, a checkpoint after every other
  const int epochs = 16;
  const std::vector<std::string> every = {"--checkpoint-every", "2"};
  const Reference ref = run_reference(tiny_run(data, tmp / "ref", epochs, every), tmp / "ref");

  std::mt19937 rng(20140611);
  // a step in the first third of the run, then up to one step's time more (a moment chosen by
  // step, not by the clock, so that a loaded machine cannot let the run end first)
  std::uniform_int_distribution<int64_t> target(5, epochs * 16 / 3);
  std::uniform_real_distribution<double> delay(0.0, ref.seconds / (epochs * 16));
  int trial = 0;
  // Two SIGINTs a gap apart: the child stops at once when the second arrives before the
  // graceful stop ends, and gracefully otherwise (the two may also merge into one pending
  // signal); either way the checkpoint loads and the run resumes exactly. The last trial
  // stops the child, queues SIGINT and SIGTERM (distinct signals do not merge) and lets it
  // go on: its handler sees one and then the other, so it must stop at once.
  for (double gap : {0.0, 0.0002, 0.002, -1.0}) {
    CAPTURE(gap);
    const bool queued = gap < 0;
    const std::string out = tmp / ("run" + std::to_string(trial++));
    const std::vector<std::string> args = tiny_run(data, out, epochs, every);
    const pid_t pid = spawn_gan(args, tmp / "stdout", tmp / "stderr");
    wait_for_step(out + "/metrics.jsonl", pid, target(rng));
    std::this_thread::sleep_for(micros(delay(rng)));
    if (queued) {
      REQUIRE(::kill(pid, SIGSTOP) == 0);
      REQUIRE(::kill(pid, SIGINT) == 0);
      REQUIRE(::kill(pid, SIGTERM) == 0);
      REQUIRE(::kill(pid, SIGCONT) == 0);
    } else {
      REQUIRE(::kill(pid, SIGINT) == 0);
      std::this_thread::sleep_for(micros(gap));
      ::kill(pid, SIGINT);  // the child may have finished with the first one: then a no-op
    }
    const int status = wait_child(pid);
    const std::string said = slurp(tmp / "stdout"), err = slurp(tmp / "stderr");
    INFO(said, err);
    const bool at_once = err.find("second interrupt: stopping now") != std::string::npos;
    if (queued) {
      CHECK(at_once);
      CHECK((status == 128 + SIGINT || status == 128 + SIGTERM));
    } else {
      CHECK(status == 130);
      CHECK((at_once || said.find("interrupted (signal 2)") != std::string::npos));
    }
    const std::string ckpt = out + "/checkpoint.safetensors";
    if (fs::exists(ckpt)) CHECK(load_checkpoint(ckpt).state.counters.iteration > 0);
    finish_and_compare(args, out, ref);
  }
}

TEST_CASE("SIGINT while the last checkpoint is written: it completes, exit 130, all epochs done") {
  TempDir tmp("finishing");
  const std::string data = tmp / "data";
  write_small_data(data, 64);  // 2 iterations per epoch
  // a model whose checkpoint (about 20 MB) takes a while to write
  const std::vector<std::string> wide = {"--g-widths", "512,512", "--d-widths", "512,512"};
  bool caught = false;
  for (int attempt = 0; attempt < 10 && !caught; ++attempt) {
    CAPTURE(attempt);
    const std::string out = tmp / ("run" + std::to_string(attempt));
    const std::string ckpt = out + "/checkpoint.safetensors";
    const pid_t pid = spawn_gan(tiny_run(data, out, 1, wide), tmp / "stdout", tmp / "stderr");
    // stop the child now and then until it is caught writing the checkpoint, which it does
    // only after the epoch's last step
    bool writing = false;
    for (int peek = 0; peek < 20000 && !writing; ++peek) {
      if (::kill(pid, SIGSTOP) != 0) break;
      writing = !temporaries(out, "checkpoint.safetensors").empty();
      if (!writing) {
        ::kill(pid, SIGCONT);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    if (writing) ::kill(pid, SIGINT);
    ::kill(pid, SIGCONT);
    const int status = wait_child(pid);
    const std::string said = slurp(tmp / "stdout");
    INFO(said, slurp(tmp / "stderr"));
    if (!writing) {  // it finished between two peeks: try again
      CHECK(status == 0);
      continue;
    }
    caught = true;
    CHECK(status == 130);
    CHECK(said.find("interrupted (signal 2) while finishing: all 1 epochs are done and "
                    "checkpoint " + ckpt + " is complete") != std::string::npos);
    CHECK(load_checkpoint(ckpt).state.epoch == 1);
    CHECK(temporaries(out, "checkpoint.safetensors").empty());
  }
  CHECK(caught);
}

TEST_CASE("SIGKILL at 30 moments, some while a checkpoint is written: it loads, resumes exactly") {
  TempDir tmp("kill");
  const std::string data = tmp / "data";
  write_small_data(data, 512);  // 16 iterations per epoch
  const int epochs = 20, per_epoch = 16;
  const std::vector<std::string> every = {"--checkpoint-every", "1"};
  const Reference ref = run_reference(tiny_run(data, tmp / "ref", epochs, every), tmp / "ref");

  const std::string out = tmp / "run", ckpt = out + "/checkpoint.safetensors";
  const std::vector<std::string> args = tiny_run(data, out, epochs, every);
  std::mt19937 rng(20140612);
  // a child lives for up to two epochs' time: the run advances by fits and starts
  std::uniform_real_distribution<double> delay(0.0, 2.0 * ref.seconds / epochs);
  int kills = 0, during_write = 0, completed = 0;
  int64_t last_epoch = 0;
  for (int i = 0; i < 30; ++i) {
    CAPTURE(i);
    std::vector<std::string> a = args;
    if (fs::exists(ckpt))
      a.insert(a.end(), {"--resume", ckpt});
    else
      fs::remove_all(out);  // killed before its first checkpoint: start again
    const pid_t pid = spawn_gan(a, tmp / "stdout", tmp / "stderr");
    std::this_thread::sleep_for(micros(delay(rng)));
    // Every other kill waits for a moment when a checkpoint is being written: stop the
    // child, look for the temporary file, and let it run on a little if there is none.
    bool writing = false;
    for (int peek = 0; i % 2 == 1 && peek < 400 && !writing; ++peek) {
      if (::kill(pid, SIGSTOP) != 0) break;
      writing = !temporaries(out, "checkpoint.safetensors").empty();
      if (!writing) {
        ::kill(pid, SIGCONT);
        std::this_thread::sleep_for(std::chrono::microseconds(300));
      }
    }
    ::kill(pid, SIGKILL);
    ::kill(pid, SIGCONT);
    const int status = wait_child(pid);
    INFO(slurp(tmp / "stdout"), slurp(tmp / "stderr"));
    if (status == 0) {  // it finished first: the run is complete, so start another
      ++completed;
      CHECK(read_file(ckpt) == ref.checkpoint);
      fs::remove_all(out);
      last_epoch = 0;
      continue;
    }
    REQUIRE(status == 128 + SIGKILL);
    ++kills;
    during_write += !temporaries(out, "checkpoint.safetensors").empty();
    if (!fs::exists(ckpt)) continue;
    const Checkpoint ck = load_checkpoint(ckpt);  // complete, whatever the moment
    CHECK(ck.state.counters.batch_cursor == 0);
    CHECK(ck.state.counters.iteration == ck.state.epoch * per_epoch);
    CHECK(ck.state.epoch >= last_epoch);
    last_epoch = ck.state.epoch;
  }
  INFO("completed runs: ", completed);
  CHECK(kills >= 20);
  CHECK(during_write >= 3);
  finish_and_compare(args, out, ref);
}

}  // namespace
