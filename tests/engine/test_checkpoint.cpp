/*
 * test_checkpoint.cpp — checkpoints: bit-exact round trip of the whole training state,
 * PyTorch names and shapes, weights-only files, refusal of non-finite state (the old file
 * stays), and every kind of corrupt or mismatched file refused naming the file.
 */
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/io/atomic_file.hpp"
#include "engine/checkpoint.hpp"
#include "engine/base/error.hpp"
#include "engine/io/safetensors.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/support/limited_child.hpp"
#include "tests/support/process_runner.hpp"
#include "tests/support/safetensors_copy.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using gan::test::TempDir;

TrainConfig tiny_config() {
  TrainConfig c;
  c.spec.z_dim = 6;
  c.spec.g_widths = {10, 14};
  c.spec.d_widths = {12};
  c.spec.image_h = 4;
  c.spec.image_w = 3;
  c.batch_size = 4;
  c.d_steps = 2;
  c.g_loss = GLoss::Minimax;
  c.seed = 1234567890123ull;
  return c;
}

// A state after a few real iterations: every array non-trivial, mid-epoch cursor.
TrainState trained_state(const TrainConfig& c) {
  auto be = make_cpu_backend();
  Trainer t(*be, c);
  t.set_data(test::random_dataset(40, 4, 3, 17));
  t.init_weights();
  t.begin_epoch(0);
  for (int i = 0; i < 3; ++i) t.run_iteration();
  return t.state();
}

void check_same_state(const TrainState& a, const TrainState& b) {
  for (int q = 0; q < 2; ++q) {
    CHECK(a.params[q] == b.params[q]);
    CHECK(a.adam_m[q] == b.adam_m[q]);
    CHECK(a.adam_v[q] == b.adam_v[q]);
    CHECK(a.counters.adam_step[q] == b.counters.adam_step[q]);
    CHECK(a.counters.skipped[q] == b.counters.skipped[q]);
    CHECK(a.counters.first_bad_iteration[q] == b.counters.first_bad_iteration[q]);
  }
  CHECK(a.bn_stats == b.bn_stats);
  CHECK(a.counters.iteration == b.counters.iteration);
  CHECK(a.counters.batch_cursor == b.counters.batch_cursor);
  CHECK(a.epoch == b.epoch);
  CHECK(a.data_count == b.data_count);
}

TEST_CASE("checkpoint: the whole training state and config round-trip bit for bit") {
  TempDir tmp("ckpt");
  const TrainConfig c = tiny_config();
  TrainState s = trained_state(c);
  REQUIRE(s.counters.iteration == 3);
  REQUIRE(s.counters.batch_cursor == 6);
  // counters a run with --nan-policy skip would have: distinct for G and D, none a default
  s.counters.skipped[0] = 2;
  s.counters.skipped[1] = 5;
  s.counters.first_bad_iteration[0] = 1;
  s.counters.first_bad_iteration[1] = 0;
  const std::string path = tmp / "a.safetensors";
  save_checkpoint(path, c, s);
  const Checkpoint ck = load_checkpoint(path);
  CHECK(ck.has_optimizer);
  CHECK(to_json(ck.config) == to_json(c));
  check_same_state(ck.state, s);
  // saving what was loaded gives the same bytes
  save_checkpoint(tmp / "b.safetensors", ck.config, ck.state);
  CHECK(read_file(path) == read_file(tmp / "b.safetensors"));
}

TEST_CASE("checkpoint: PyTorch state_dict names, shapes and dtypes") {
  TempDir tmp("ckpt");
  const TrainConfig c = tiny_config();
  const TrainState s = trained_state(c);
  save_checkpoint(tmp / "a.safetensors", c, s);
  const SafetensorsFile f = SafetensorsFile::read(tmp / "a.safetensors");
  CHECK(f.get("G.net.0.weight").shape == std::vector<int64_t>{10, 6});
  CHECK(f.get("G.net.1.weight").shape == std::vector<int64_t>{10});  // BatchNorm gamma
  CHECK(f.get("G.net.4.running_var").shape == std::vector<int64_t>{14});
  CHECK(f.get("G.net.6.weight").shape == std::vector<int64_t>{12, 14});  // output Linear
  CHECK(f.get("D.net.0.weight").shape == std::vector<int64_t>{12, 12});
  CHECK(f.get("D.net.2.weight").shape == std::vector<int64_t>{1, 12});
  CHECK(f.get("G.net.1.num_batches_tracked").dtype == DType::I64);
  // 3 iterations x (2 D steps + 1 G step) training-mode forwards of G
  CHECK(f.i64_scalar("G.net.1.num_batches_tracked") == 9);
  // the weight average: a second generator state_dict under G_ema.
  CHECK(f.get("G_ema.net.0.weight").shape == std::vector<int64_t>{10, 6});
  CHECK(f.get("G_ema.net.4.running_var").shape == std::vector<int64_t>{14});
  CHECK(f.i64_scalar("G_ema.net.1.num_batches_tracked") == 9);
  CHECK(f.i64_scalar("G_ema.net.4.num_batches_tracked") == 9);
  CHECK(f.i64_scalar("adam.G.step") == 3);
  CHECK(f.i64_scalar("adam.D.step") == 6);
  CHECK(f.has("adam.D.exp_avg_sq.net.2.bias"));
  CHECK_FALSE(f.has("G.net.2.weight"));  // ReLU has no parameters
  CHECK(f.meta("format") == "gan_cuda-checkpoint");
}

TEST_CASE("checkpoint: weights-only files load without Adam state") {
  TempDir tmp("ckpt");
  const TrainConfig c = tiny_config();
  const TrainState s = trained_state(c);
  save_checkpoint(tmp / "w.safetensors", c, s, true);
  const SafetensorsFile f = SafetensorsFile::read(tmp / "w.safetensors");
  CHECK_FALSE(f.has("adam.G.step"));
  const Checkpoint ck = load_checkpoint(tmp / "w.safetensors");
  CHECK_FALSE(ck.has_optimizer);
  CHECK(ck.state.params[0] == s.params[0]);
  CHECK(ck.state.bn_stats == s.bn_stats);
  CHECK(ck.state.adam_m[0] == std::vector<float>(s.adam_m[0].size(), 0.0f));
}

TEST_CASE("checkpoint: non-finite state is never written and the old file stays") {
  TempDir tmp("ckpt");
  const TrainConfig c = tiny_config();
  TrainState s = trained_state(c);
  const std::string path = tmp / "a.safetensors";
  save_checkpoint(path, c, s);
  const auto before = read_file(path);
  // the message names the file and what holds the bad value
  const char* what[] = {"the generator",  "the discriminator",
                        "a BatchNorm running statistic", "an Adam moment", "an Adam moment",
                        "the generator's weight average",
                        "the weight average's BatchNorm statistics"};
  REQUIRE(c.has_ema());
  for (int which = 0; which < 7; ++which) {
    CAPTURE(which);
    TrainState bad = s;
    if (which == 0) bad.params[0][3] = NAN;
    if (which == 1) bad.params[1][5] = NAN;
    if (which == 2) bad.bn_stats[2] = INFINITY;
    if (which == 3) bad.adam_v[0][0] = -INFINITY;
    if (which == 4) bad.adam_m[1][1] = NAN;
    if (which == 5) bad.ema_params[7] = INFINITY;
    if (which == 6) bad.ema_stats[1] = NAN;
    const std::string want = "refusing to write " + path + ": " + what[which] +
                             " holds non-finite values";
    CHECK_THROWS_WITH_AS(save_checkpoint(path, c, bad), doctest::Contains(want.c_str()), Error);
    CHECK(read_file(path) == before);
  }
}

TEST_CASE("checkpoint: a file with a non-finite value in any tensor is refused, naming it") {
  TempDir tmp("ckpt_nonfinite");
  const TrainConfig c = tiny_config();
  REQUIRE(c.has_ema());
  const std::string good = tmp / "good.safetensors";
  save_checkpoint(good, c, trained_state(c));
  const SafetensorsFile file = SafetensorsFile::read(good);
  for (const std::string name :
       {"G.net.0.weight", "G.net.6.bias", "D.net.0.weight", "D.net.2.bias",
        "G.net.1.running_mean", "G.net.4.running_var", "adam.G.exp_avg.net.0.weight",
        "adam.G.exp_avg_sq.net.1.weight", "adam.D.exp_avg.net.2.weight",
        "adam.D.exp_avg_sq.net.0.bias", "G_ema.net.0.weight", "G_ema.net.4.running_mean"}) {
    CAPTURE(name);
    const std::string bad = tmp / "bad.safetensors";
    test::copy_safetensors(file, [&](const std::string& n, SafetensorsWriter& w,
                                     const StTensor& t) {
      if (n != name) return false;
      std::vector<float> v = file.f32(n, t.shape);
      v.back() = std::nanf("");
      w.add_f32(n, t.shape, v.data());
      return true;
    }).write(bad);
    CHECK_THROWS_WITH_AS(load_checkpoint(bad),
                         doctest::Contains((bad + ": tensor " + name +
                                            " holds non-finite values").c_str()),
                         InputError);
  }
  CHECK_NOTHROW(load_checkpoint(good));
}

TEST_CASE("checkpoint: corrupt, foreign and mismatched files are refused naming the file") {
  TempDir tmp("ckpt");
  const TrainConfig c = tiny_config();
  const TrainState s = trained_state(c);
  const std::string good = tmp / "good.safetensors";
  save_checkpoint(good, c, s);
  const auto bytes = read_file(good);
  // load_checkpoint(path) throws an InputError naming the file and giving the reason `what`.
  auto refused = [&](const std::string& path, const std::string& what) {
    REQUIRE_FALSE(what.empty());
    INFO(path, " ", what);
    std::string message;
    try {
      load_checkpoint(path);
    } catch (const InputError& e) {
      message = e.what();
    }
    CAPTURE(message);
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find(what) != std::string::npos);
  };
  write_file_atomic(tmp / "half.safetensors", bytes.data(), bytes.size() / 2);
  refused(tmp / "half.safetensors", "is beyond the buffer");
  refused(tmp / "missing.safetensors", "cannot open");

  // The good file with `edit` applied to its tensors (true = tensor handled by edit).
  auto rewrite = [&](const test::TensorEdit& edit) { return test::copy_safetensors(good, edit); };
  // a tensor missing
  SafetensorsWriter w1 = rewrite([](const std::string& n, SafetensorsWriter&, const StTensor&) {
    return n == "D.net.0.bias";
  });
  w1.write(tmp / "no_tensor.safetensors");
  refused(tmp / "no_tensor.safetensors", "D.net.0.bias");
  // a tensor of the wrong shape
  SafetensorsWriter w2 = rewrite([](const std::string& n, SafetensorsWriter& w, const StTensor& t) {
    if (n != "G.net.0.weight") return false;
    w.add(n, t.dtype, {6, 10}, t.bytes.data());
    return true;
  });
  w2.write(tmp / "shape.safetensors");
  refused(tmp / "shape.safetensors", "G.net.0.weight");
  // another format, another version
  SafetensorsWriter w3 = test::copy_safetensors(good);
  w3.set_metadata("format", "something-else");
  w3.write(tmp / "format.safetensors");
  refused(tmp / "format.safetensors", "not a gan_cuda checkpoint");
  w3.set_metadata("format", "gan_cuda-checkpoint");
  w3.set_metadata("version", "99");
  w3.write(tmp / "version.safetensors");
  refused(tmp / "version.safetensors", "version 99");
  // a config that does not describe the tensors
  w3.set_metadata("version", "1");
  TrainConfig other = c;
  other.spec.g_widths = {10, 15};
  w3.set_metadata("config", to_json(other));
  w3.write(tmp / "config.safetensors");
  refused(tmp / "config.safetensors", "expected F32 [15, 10], found F32 [14, 10]");
  // counters below zero: in the JSON state ...
  const nlohmann::json state = nlohmann::json::parse(SafetensorsFile::read(good).meta("state"));
  for (const auto& [field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"epoch", -1}, {"iteration", -1}, {"batch_cursor", -1}, {"data_count", -1},
           {"skipped", {-1, 0}}, {"skipped", {0, -1}}}) {
    CAPTURE(field);
    nlohmann::json j = state;
    j[field] = value;
    SafetensorsWriter w = test::copy_safetensors(good);
    w.set_metadata("state", j.dump());
    w.write(tmp / "negative.safetensors");
    refused(tmp / "negative.safetensors", "negative counters in the checkpoint state");
  }
  // ... and in Adam's step tensors
  for (const std::string step : {"adam.G.step", "adam.D.step"}) {
    CAPTURE(step);
    SafetensorsWriter w = rewrite([&](const std::string& n, SafetensorsWriter& out, const StTensor&) {
      if (n != step) return false;
      out.add_i64_scalar(n, -1);
      return true;
    });
    w.write(tmp / "negative.safetensors");
    refused(tmp / "negative.safetensors", "negative counters in the checkpoint state");
  }
}

TEST_CASE("checkpoint: a configuration that claims a huge network is refused before allocating it") {
#if GAN_HAS_ASAN_FEATURE
  MESSAGE("skipped under AddressSanitizer: an address-space limit cannot bound its processes");
  return;
#endif
  TempDir tmp("ckpt_claims");
  const TrainConfig c = tiny_config();
  const std::string good = tmp / "good.safetensors";
  save_checkpoint(good, c, trained_state(c));
  // the tensors of the tiny model under a configuration of 16 GiB of weights, in either net
  for (const bool d : {false, true}) {
    CAPTURE(d);
    TrainConfig huge = c;
    (d ? huge.spec.d_widths : huge.spec.g_widths) = {65536, 65536};
    SafetensorsWriter w = test::copy_safetensors(good);
    w.set_metadata("config", to_json(huge));
    const std::string path = tmp / "huge.safetensors";
    w.write(path);
    // refused naming the first tensor that does not fit, within 256 MiB of address space
    const std::string want = d ? "D.net.0.weight" : "G.net.0.weight";
    CHECK(test::run_in_limited_child([&] { load_checkpoint(path); }, want, size_t(256) << 20) ==
          0);
  }
}

}  // namespace
