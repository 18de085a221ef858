/*
 * test_golden.cpp — the engine on the CPU backend against PyTorch, through the golden state
 * files of tools/make_reference.py (tests/data/golden/, format in golden_reference.hpp).
 *
 * Per file: the file's TrainConfig on the bundled MNIST training set. Trainer::init_weights
 * must reproduce the stored initial parameters bit for bit, the Philox noise and the epoch-0
 * permutation must match the Python port exactly; after iteration 1 the metrics, every D
 * gradient (last D step), every G gradient, every G layer output and D hidden output of the G
 * step and the BatchNorm running statistics must match PyTorch; after iteration 3 the
 * parameters, Adam moments, running statistics, metrics, counters and an eval-mode sample.
 *
 * Tolerances (|got - want| <= atol + rtol |want|), float32 on both sides, the difference
 * being the order of float sums (measured errors are ~1e-7 relative):
 *   init, Philox noise, permutation               exact
 *   metrics, activations, running stats, sample   atol 1e-5  rtol 1e-4  (see below)
 *   gradients                                     atol 1e-6  rtol 1e-3
 *   parameters after Adam                         atol 1e-5  rtol 1e-5   (lr 2e-4 per step)
 *   Adam m / v                                    atol 1e-7 / 1e-10  rtol 1e-3
 * with one ill-conditioned exception. The bias of a Linear that feeds a BatchNorm has a
 * gradient of exactly 0 (the batch mean removes it); both sides compute rounding noise of
 * ~1e-10 instead, which Adam divides by eps = 1e-8 into different drifts of up to ~2e-5 per
 * step. Those biases are held to atol = lr (one real Adam step), and what absorbs their drift
 * after iteration 3 (running means, the eval-mode sample) to atol 5e-5.
 * Also: the reader's round trip and every error path of the format.
 */
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "engine/model_spec.hpp"
#include "engine/train_config.hpp"
#include "engine/trainer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/data_pipeline_cpu.hpp"
#include "engine/philox.h"
#include "tests/support/golden_reference.hpp"

using namespace gan;

namespace {

struct Tol {
  double atol, rtol;
};
constexpr Tol kExact{0.0, 0.0};
constexpr Tol kValues{1e-5, 1e-4};  // metrics, activations, running stats
constexpr Tol kGrads{1e-6, 1e-3};
constexpr Tol kParams{1e-5, 1e-5};
constexpr Tol kDrift{5e-5, 1e-4};   // it3 running means and sample (see above)
constexpr Tol kAdamM{1e-7, 1e-3};
constexpr Tol kAdamV{1e-10, 1e-3};

// Fails the test if got and want differ beyond tol, listing the first mismatches and the
// largest error.
void compare(const std::string& what, const float* got, const float* want, size_t n, Tol tol) {
  size_t bad = 0;
  double worst = 0;
  size_t worst_i = 0;
  std::ostringstream first;
  for (size_t i = 0; i < n; ++i) {
    const double g = got[i], w = want[i], err = std::abs(g - w);
    if (!(err <= tol.atol + tol.rtol * std::abs(w))) {
      if (bad < 5) first << "\n  [" << i << "] got " << g << " want " << w;
      ++bad;
    }
    if (!(err <= worst)) {
      worst = err;
      worst_i = i;
    }
  }
  if (bad) {
    FAIL_CHECK(what << ": " << bad << " of " << n << " elements differ beyond atol " << tol.atol
                    << " rtol " << tol.rtol << "; largest error " << worst << " at [" << worst_i
                    << "]; first:" << first.str());
  }
}

void compare(const std::string& what, const std::vector<float>& got,
             const std::vector<float>& want, Tol tol) {
  REQUIRE_MESSAGE(got.size() == want.size(), what << ": size " << got.size() << " vs "
                                                  << want.size());
  compare(what, got.data(), want.data(), got.size(), tol);
}

// Each tensor of `entries` (offsets into `arena`) against golden tensor prefix + name;
// tol_for(entry) gives its tolerance.
template <typename TolFor>
void compare_arena(const GoldenFile& f, const std::string& prefix,
                   const std::vector<TensorEntry>& entries, const std::vector<float>& arena,
                   TolFor tol_for) {
  for (const TensorEntry& e : entries) {
    const std::vector<float>& want = f.f32(prefix + e.name, e.shape);
    REQUIRE(e.offset + e.numel() <= arena.size());
    compare(prefix + e.name, arena.data() + e.offset, want.data(), e.numel(), tol_for(e));
  }
}

void compare_arena(const GoldenFile& f, const std::string& prefix,
                   const std::vector<TensorEntry>& entries, const std::vector<float>& arena,
                   Tol tol) {
  compare_arena(f, prefix, entries, arena, [tol](const TensorEntry&) { return tol; });
}

// Whether `e` is the bias of a Linear followed by a BatchNorm.
bool feeds_batchnorm(const NetLayout& net, const TensorEntry& e) {
  for (size_t l = 0; l < net.layers.size(); ++l)
    if (net.layers[l].batchnorm && net.offsets[l].b == e.offset) return true;
  return false;
}

void compare_metrics(const GoldenFile& f, const std::string& prefix, const StepMetrics& m) {
  const std::pair<const char*, float> got[] = {{"d_loss", m.d_loss}, {"d_real", m.d_real},
                                               {"d_fake", m.d_fake}, {"value", m.value},
                                               {"g_loss", m.g_loss}, {"g_fake", m.g_fake}};
  for (auto [name, v] : got) {
    const float want = f.scalar(prefix + name);
    compare(prefix + name, &v, &want, 1, kValues);
  }
}

const Dataset& mnist_train() {
  static const Dataset d = load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Train);
  return d;
}

void run_golden(const std::string& file) {
  const GoldenFile f = GoldenFile::read(GAN_SOURCE_DIR "/tests/data/golden/" + file);
  const std::string json = f.text("config");
  const TrainConfig cfg = train_config_from_json(json);
  // The file holds the JSON exactly as the engine writes it.
  CHECK(to_json(cfg) == json);
  const int B = cfg.batch_size, k = cfg.d_steps, zd = cfg.spec.z_dim;
  const int dim = cfg.spec.image_dim();

  // The Python port of Philox and of the shuffle.
  {
    const std::vector<float>& want = f.f32("check.noise", {B, zd});
    std::vector<float> got(want.size());
    for (size_t i = 0; i < got.size(); ++i)
      got[i] = philox_normal(cfg.seed, stream_id(Stream::Noise, 0), i);
    compare("check.noise", got, want, kExact);
    const Dataset& data = mnist_train();
    std::vector<int32_t> perm(static_cast<size_t>(data.count));
    cpu::shuffle(perm.data(), data.count, cfg.seed, 0);
    const GoldenTensor& p = f.get("check.perm");
    REQUIRE(p.shape.size() == 1);
    REQUIRE(p.shape[0] <= data.count);
    std::vector<float> head(perm.begin(), perm.begin() + p.shape[0]);
    compare("check.perm", head, f.f32("check.perm", p.shape), kExact);
  }

  std::unique_ptr<Backend> be = make_cpu_backend();
  Trainer tr(*be, cfg, false);
  tr.set_data(mnist_train());
  const NetLayout& g = tr.layout(Net::G);
  const NetLayout& d = tr.layout(Net::D);
  tr.init_weights();
  {
    const TrainState s = tr.state();
    compare_arena(f, "init.G.", g.params, s.params[0], kExact);
    compare_arena(f, "init.D.", d.params, s.params[1], kExact);
  }

  tr.begin_epoch(0);
  tr.run_iteration();
  compare_metrics(f, "it1.", tr.metrics());
  compare_arena(f, "it1.grad.D.", d.params, tr.grads(Net::D), kGrads);
  compare_arena(f, "it1.grad.G.", g.params, tr.grads(Net::G), kGrads);
  for (size_t l = 0; l < g.layers.size(); ++l) {
    const std::string name = "it1.act.G." + std::to_string(l);
    compare(name, tr.activation(Net::G, static_cast<int>(l)),
            f.f32(name, {B, g.layers[l].out}), kValues);
  }
  for (size_t l = 0; l + 1 < d.layers.size(); ++l) {
    const std::string name = "it1.act.D." + std::to_string(l);
    compare(name, tr.activation(Net::D, static_cast<int>(l)),
            f.f32(name, {B, d.layers[l].out}), kValues);
  }
  compare_arena(f, "it1.bn.G.", g.buffers, tr.state().bn_stats, kValues);

  tr.run_iteration();
  tr.run_iteration();
  compare_metrics(f, "it3.", tr.metrics());
  const TrainState s = tr.state();
  CHECK(s.counters.iteration == 3);
  CHECK(s.counters.batch_cursor == 3 * k);
  CHECK(s.counters.adam_step[0] == 3);
  CHECK(s.counters.adam_step[1] == 3 * k);
  CHECK(s.counters.skipped[0] == 0);
  CHECK(s.counters.skipped[1] == 0);
  const Tol one_step{cfg.adam_g.lr, 0.0};
  compare_arena(f, "it3.param.G.", g.params, s.params[0], [&](const TensorEntry& e) {
    return feeds_batchnorm(g, e) ? one_step : kParams;
  });
  compare_arena(f, "it3.param.D.", d.params, s.params[1], kParams);
  compare_arena(f, "it3.exp_avg.G.", g.params, s.adam_m[0], kAdamM);
  compare_arena(f, "it3.exp_avg.D.", d.params, s.adam_m[1], kAdamM);
  compare_arena(f, "it3.exp_avg_sq.G.", g.params, s.adam_v[0], kAdamV);
  compare_arena(f, "it3.exp_avg_sq.D.", d.params, s.adam_v[1], kAdamV);
  compare_arena(f, "it3.bn.G.", g.buffers, s.bn_stats, [](const TensorEntry& e) {
    return e.name.find("running_mean") != std::string::npos ? kDrift : kValues;
  });
  compare("it3.sample", tr.generate(4, Stream::FixedNoise, 0), f.f32("it3.sample", {4, dim}),
          kDrift);
}

// ---- the format ---------------------------------------------------------------------

std::vector<GoldenTensor> sample_tensors() {
  GoldenTensor a;
  a.name = "net.0.weight";
  a.shape = {2, 3};
  a.f32 = {1.5f, -2.25f, 3.0f, 0.1f, 1e-30f, -7.0f};
  GoldenTensor s;
  s.name = "it1.d_loss";
  s.f32 = {0.75f};
  GoldenTensor c;
  c.name = "config";
  c.dtype = GoldenDtype::U8;
  c.shape = {5};
  c.u8 = {'{', '"', 'a', '"', '}'};
  GoldenTensor e;
  e.name = "empty";
  e.shape = {0, 4};
  return {a, s, c, e};
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    GoldenFile::parse(bytes.data(), bytes.size(), "bad.gold");
  } catch (const InputError& e) {
    return e.what();
  }
  FAIL("parse accepted a malformed file");
  return "";
}

// Offset of the first tensor's dtype field in encode_golden(sample_tensors()).
constexpr size_t kFirstDtype = 8 + 4 + 4 + 4 + 12;

void put_u32_at(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

TEST_CASE("golden file: round trip of every dtype and shape") {
  const std::vector<GoldenTensor> in = sample_tensors();
  const std::vector<uint8_t> bytes = encode_golden(in);
  CHECK(std::memcmp(bytes.data(), "GANGOLD\0\x01\0\0\0\x04\0\0\0", 16) == 0);
  const GoldenFile f = GoldenFile::parse(bytes.data(), bytes.size(), "ok.gold");
  REQUIRE(f.tensors().size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    CHECK(f.tensors()[i].name == in[i].name);
    CHECK(f.tensors()[i].dtype == in[i].dtype);
    CHECK(f.tensors()[i].shape == in[i].shape);
    CHECK(f.tensors()[i].f32 == in[i].f32);
    CHECK(f.tensors()[i].u8 == in[i].u8);
  }
  CHECK(f.f32("net.0.weight", {2, 3})[4] == 1e-30f);
  CHECK(f.scalar("it1.d_loss") == 0.75f);
  CHECK(f.text("config") == "{\"a\"}");
  CHECK(f.has("empty"));
  CHECK_FALSE(f.has("missing"));
  CHECK_THROWS_WITH_AS(f.get("missing"), doctest::Contains("ok.gold: no tensor 'missing'"),
                       InputError);
  CHECK_THROWS_WITH_AS(f.f32("net.0.weight", {3, 2}),
                       doctest::Contains("has shape [2, 3], expected [3, 2]"), InputError);
  CHECK_THROWS_WITH_AS(f.f32("config", {5}), doctest::Contains("is not f32"), InputError);
  CHECK_THROWS_WITH_AS(f.text("it1.d_loss"), doctest::Contains("not a rank-1 u8"), InputError);
}

TEST_CASE("golden file: every malformed file is refused") {
  const std::vector<uint8_t> good = encode_golden(sample_tensors());
  SUBCASE("bad magic") {
    std::vector<uint8_t> b = good;
    b[3] = 'X';
    CHECK(parse_error(b).find("bad.gold: not a golden reference file (bad magic)") == 0);
    CHECK(parse_error({'G', 'A', 'N'}).find("bad magic") != std::string::npos);
  }
  SUBCASE("another version") {
    CHECK(parse_error(encode_golden(sample_tensors(), 2)).find("version 2 is not supported") !=
          std::string::npos);
  }
  SUBCASE("every truncation") {
    for (size_t n = 0; n < good.size(); ++n) {
      const std::vector<uint8_t> b(good.begin(), good.begin() + n);
      const std::string msg = parse_error(b);
      CHECK_MESSAGE(msg.find("bad.gold: ") == 0, "truncated to " << n << ": " << msg);
    }
  }
  SUBCASE("trailing bytes") {
    std::vector<uint8_t> b = good;
    b.push_back(0);
    CHECK(parse_error(b).find("1 trailing bytes") != std::string::npos);
  }
  SUBCASE("unknown dtype") {
    std::vector<uint8_t> b = good;
    put_u32_at(b, kFirstDtype, 7);
    CHECK(parse_error(b).find("'net.0.weight' has unknown dtype 7") != std::string::npos);
  }
  SUBCASE("rank over 8") {
    std::vector<uint8_t> b = good;
    put_u32_at(b, kFirstDtype + 4, 9);
    CHECK(parse_error(b).find("has rank 9") != std::string::npos);
  }
  SUBCASE("sizes beyond the limit or the file") {
    std::vector<uint8_t> b = good;
    for (int i = 0; i < 8; ++i) b[kFirstDtype + 8 + i] = 0xFF;  // dims[0] = 2^64 - 1
    CHECK(parse_error(b).find("'net.0.weight' has a dimension or size over 2^40") !=
          std::string::npos);
    b = good;
    for (int i = 0; i < 8; ++i) b[kFirstDtype + 8 + i] = i == 4 ? 1 : 0;  // dims[0] = 2^32
    CHECK(parse_error(b).find("truncated golden file: tensor 'net.0.weight'") !=
          std::string::npos);
  }
  SUBCASE("empty and overlong names") {
    std::vector<uint8_t> b = good;
    put_u32_at(b, 16, 0);
    CHECK(parse_error(b).find("name length of 0") != std::string::npos);
    put_u32_at(b, 16, 5000);
    CHECK(parse_error(b).find("name length of 5000") != std::string::npos);
  }
  SUBCASE("duplicate names") {
    std::vector<GoldenTensor> t = sample_tensors();
    t[1].name = t[0].name;
    CHECK(parse_error(encode_golden(t)).find("'net.0.weight' appears twice") !=
          std::string::npos);
  }
  SUBCASE("missing file") {
    CHECK_THROWS_AS(GoldenFile::read(GAN_SOURCE_DIR "/tests/data/golden/no_such.gold"),
                    InputError);
  }
}

TEST_CASE("golden: non-saturating G loss, 1 D step, matches PyTorch") {
  run_golden("non_saturating.gold");
}

TEST_CASE("golden: minimax G loss, 1 D step, matches PyTorch") { run_golden("minimax.gold"); }

TEST_CASE("golden: non-saturating G loss, 2 D steps, matches PyTorch") {
  run_golden("non_saturating_k2.gold");
}
