/*
 * train_config.cpp — validation and JSON (nlohmann) of TrainConfig.
 */
#include "engine/train_config.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <string_view>
#include <vector>
#include <nlohmann/json.hpp>

#include "engine/base/error.hpp"

namespace gan {

const char* g_loss_name(GLoss l) {
  return l == GLoss::NonSaturating ? "non-saturating" : "minimax";
}

GLoss parse_g_loss(const std::string& s) {
  if (s == "non-saturating" || s == "nonsaturating" || s == "ns") return GLoss::NonSaturating;
  if (s == "minimax") return GLoss::Minimax;
  GAN_INPUT_FAIL("--g-loss must be 'non-saturating' or 'minimax', got '" << s << "'");
}

const char* sample_bn_name(SampleBn b) { return b == SampleBn::Eval ? "eval" : "train"; }

SampleBn parse_sample_bn(const std::string& s) {
  if (s == "eval") return SampleBn::Eval;
  if (s == "train") return SampleBn::Train;
  GAN_INPUT_FAIL("--sample-bn must be 'eval' or 'train', got '" << s << "'");
}

// Largest batch: 2*batch rows of the widest layer stay far inside 32-bit indexing.
constexpr int kMaxBatch = 1 << 16;

void TrainConfig::validate() const {
  spec.validate();
  if (batch_size < 2 || batch_size > kMaxBatch)
    GAN_INPUT_FAIL("--batch-size must be between 2 and " << kMaxBatch
                                                          << " (BatchNorm needs 2 rows), got "
                                                          << batch_size);
  if (static_cast<long long>(2) * batch_size * std::max(spec.image_dim(), 1) > (1LL << 31) / 4)
    GAN_INPUT_FAIL("--batch-size " << batch_size << " with " << spec.image_dim()
                                   << "-pixel images needs buffers beyond 2^31 bytes");
  if (d_steps < 1 || d_steps > 100) GAN_INPUT_FAIL("--d-steps must be between 1 and 100");
  auto positive = [](const char* flag, float v) {
    if (!(v > 0.0f) || !std::isfinite(v)) GAN_INPUT_FAIL(flag << " must be a positive number");
  };
  positive("--lr-g", adam_g.lr);
  positive("--lr-d", adam_d.lr);
  positive("--eps", adam_g.eps);
  if (!(adam_g.beta1 >= 0.0f && adam_g.beta1 < 1.0f)) GAN_INPUT_FAIL("--beta1 must be in [0, 1)");
  if (!(adam_g.beta2 >= 0.0f && adam_g.beta2 < 1.0f)) GAN_INPUT_FAIL("--beta2 must be in [0, 1)");
  if (adam_g.beta1 != adam_d.beta1 || adam_g.beta2 != adam_d.beta2 || adam_g.eps != adam_d.eps)
    GAN_INPUT_FAIL("G and D share Adam's betas and eps (--beta1, --beta2)");
  if (!(d_dropout >= 0.0f && d_dropout <= 0.9f))
    GAN_INPUT_FAIL("--d-dropout must be in [0, 0.9], got " << d_dropout);
  if (!(real_label >= 0.5f && real_label <= 1.0f))
    GAN_INPUT_FAIL("--real-label must be in [0.5, 1], got " << real_label);
  if (!(g_ema >= 0.0f && g_ema < 1.0f))
    GAN_INPUT_FAIL("--g-ema must be in [0, 1) (0: no average), got " << g_ema);
  if (lr_decay_end != 0 && !(lr_decay_start >= 0 && lr_decay_start < lr_decay_end &&
                             lr_decay_end <= kMaxEpochs))
    GAN_INPUT_FAIL("the learning-rate decay must run over epochs 0 <= start < end <= "
                   << kMaxEpochs << " (--lr-decay-epochs), got epochs " << lr_decay_start
                   << ".." << lr_decay_end);
  if (sample_bn_batch != 0 && (sample_bn_batch < 2 || sample_bn_batch > kMaxBatch))
    GAN_INPUT_FAIL("--sample-bn-batch must be between 2 and " << kMaxBatch
                                                              << " (0: the batch size), got "
                                                              << sample_bn_batch);
}

std::string to_json(const TrainConfig& c) {
  nlohmann::json j;
  j["z_dim"] = c.spec.z_dim;
  j["g_widths"] = c.spec.g_widths;
  j["d_widths"] = c.spec.d_widths;
  j["image_h"] = c.spec.image_h;
  j["image_w"] = c.spec.image_w;
  j["leaky_slope"] = c.spec.leaky_slope;
  j["bn_eps"] = c.spec.bn_eps;
  j["bn_momentum"] = c.spec.bn_momentum;
  j["batch_size"] = c.batch_size;
  j["d_steps"] = c.d_steps;
  j["g_loss"] = g_loss_name(c.g_loss);
  // Fields of the training options are written only where they differ from the behaviour
  // of configurations that predate them, so such a configuration's JSON is unchanged.
  if (c.adam_g.lr == c.adam_d.lr) {
    j["lr"] = c.adam_g.lr;
  } else {
    j["lr_g"] = c.adam_g.lr;
    j["lr_d"] = c.adam_d.lr;
  }
  j["beta1"] = c.adam_g.beta1;
  j["beta2"] = c.adam_g.beta2;
  j["eps"] = c.adam_g.eps;
  j["seed"] = c.seed;
  j["nan_policy"] = c.nan_policy == NanPolicy::Abort ? "abort" : "skip";
  const TrainConfig off = TrainConfig::plain();  // what train_config_from_json assumes
  if (c.d_dropout != off.d_dropout) j["d_dropout"] = c.d_dropout;
  if (c.real_label != off.real_label) j["real_label"] = c.real_label;
  if (c.g_ema != off.g_ema) j["g_ema"] = c.g_ema;
  if (c.has_lr_decay()) j["lr_decay"] = {c.lr_decay_start, c.lr_decay_end};
  if (c.sample_bn != off.sample_bn) j["sample_bn"] = sample_bn_name(c.sample_bn);
  if (c.sample_bn_batch != off.sample_bn_batch) j["sample_bn_batch"] = c.sample_bn_batch;
  return j.dump();
}

namespace {

// Numbers read from JSON, range-checked: nlohmann's get<int>() wraps an integer that is
// too large and is undefined for a float out of range.
template <class T>
T json_int(const nlohmann::json& v, const char* key) {
  using Limits = std::numeric_limits<T>;
  bool fits = false;
  if (v.is_number_unsigned()) {
    fits = v.get<uint64_t>() <= static_cast<uint64_t>(Limits::max());
  } else if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    fits = x >= 0 ? static_cast<uint64_t>(x) <= static_cast<uint64_t>(Limits::max())
                  : Limits::is_signed && x >= static_cast<int64_t>(Limits::min());
  } else {
    GAN_INPUT_FAIL("bad training configuration JSON: '" << key << "' must be an integer, got "
                                                        << v.dump());
  }
  if (!fits)
    GAN_INPUT_FAIL("bad training configuration JSON: '" << key << "' = " << v.dump()
                                                        << " is out of range");
  return v.is_number_unsigned() ? static_cast<T>(v.get<uint64_t>())
                                : static_cast<T>(v.get<int64_t>());
}

std::vector<int> json_ints(const nlohmann::json& v, const char* key) {
  if (!v.is_array())
    GAN_INPUT_FAIL("bad training configuration JSON: '" << key << "' must be a list");
  std::vector<int> out;
  for (const auto& e : v) out.push_back(json_int<int>(e, key));
  return out;
}

float json_float(const nlohmann::json& v, const char* key) {
  if (!v.is_number())
    GAN_INPUT_FAIL("bad training configuration JSON: '" << key << "' must be a number");
  const double d = v.get<double>();
  if (!(std::abs(d) <= std::numeric_limits<float>::max()))
    GAN_INPUT_FAIL("bad training configuration JSON: '" << key << "' = " << v.dump()
                                                        << " is out of range");
  return static_cast<float>(d);
}

// Every key to_json can write.
constexpr std::string_view kConfigKeys[] = {
    "z_dim",      "g_widths",   "d_widths",  "image_h",    "image_w",  "leaky_slope",
    "bn_eps",     "bn_momentum", "batch_size", "d_steps",   "g_loss",   "lr",
    "lr_g",       "lr_d",       "beta1",     "beta2",      "eps",      "seed",
    "nan_policy", "d_dropout",  "real_label", "g_ema",     "lr_decay", "sample_bn",
    "sample_bn_batch"};

}  // namespace

TrainConfig TrainConfig::plain() {
  TrainConfig c;
  c.adam_g = c.adam_d = AdamConfig{};
  c.d_dropout = 0.0f;
  c.real_label = 1.0f;
  c.g_ema = 0.0f;
  return c;
}

// Starts from the plain iteration: the training options are absent from configurations
// written before them, and from any whose option is off, so absent means off whatever the
// defaults.
TrainConfig train_config_from_json(const std::string& s) {
  TrainConfig c = TrainConfig::plain();
  try {
    const nlohmann::json j = nlohmann::json::parse(s);
    if (!j.is_object()) GAN_INPUT_FAIL("bad training configuration JSON: not an object");
    // A key this build does not know is an option of a newer build: refusing it beats
    // training on without it (a run resumed with its decay or average silently dropped).
    for (const auto& item : j.items())
      if (std::find(std::begin(kConfigKeys), std::end(kConfigKeys), item.key()) ==
          std::end(kConfigKeys))
        GAN_INPUT_FAIL("bad training configuration JSON: unknown key '"
                       << item.key() << "' (an option of a newer gan_cuda?)");
    c.spec.z_dim = json_int<int>(j.at("z_dim"), "z_dim");
    c.spec.g_widths = json_ints(j.at("g_widths"), "g_widths");
    c.spec.d_widths = json_ints(j.at("d_widths"), "d_widths");
    c.spec.image_h = json_int<int>(j.at("image_h"), "image_h");
    c.spec.image_w = json_int<int>(j.at("image_w"), "image_w");
    c.spec.leaky_slope = json_float(j.at("leaky_slope"), "leaky_slope");
    c.spec.bn_eps = json_float(j.at("bn_eps"), "bn_eps");
    c.spec.bn_momentum = json_float(j.at("bn_momentum"), "bn_momentum");
    c.batch_size = json_int<int>(j.at("batch_size"), "batch_size");
    c.d_steps = json_int<int>(j.at("d_steps"), "d_steps");
    c.g_loss = parse_g_loss(j.at("g_loss").get<std::string>());
    // One "lr" for both networks, or "lr_g" and "lr_d".
    const bool split_lr = j.contains("lr_g") || j.contains("lr_d");
    if (split_lr && j.contains("lr"))
      GAN_INPUT_FAIL("bad training configuration JSON: 'lr' together with 'lr_g'/'lr_d'");
    c.adam_g.lr = split_lr ? json_float(j.at("lr_g"), "lr_g") : json_float(j.at("lr"), "lr");
    c.adam_d.lr = split_lr ? json_float(j.at("lr_d"), "lr_d") : c.adam_g.lr;
    c.adam_g.beta1 = c.adam_d.beta1 = json_float(j.at("beta1"), "beta1");
    c.adam_g.beta2 = c.adam_d.beta2 = json_float(j.at("beta2"), "beta2");
    c.adam_g.eps = c.adam_d.eps = json_float(j.at("eps"), "eps");
    c.seed = json_int<uint64_t>(j.at("seed"), "seed");
    const std::string np = j.value("nan_policy", std::string("abort"));
    if (np != "abort" && np != "skip") GAN_INPUT_FAIL("unknown nan_policy '" << np << "'");
    c.nan_policy = np == "abort" ? NanPolicy::Abort : NanPolicy::Skip;
    if (j.contains("d_dropout")) c.d_dropout = json_float(j.at("d_dropout"), "d_dropout");
    if (j.contains("real_label")) c.real_label = json_float(j.at("real_label"), "real_label");
    if (j.contains("g_ema")) c.g_ema = json_float(j.at("g_ema"), "g_ema");
    if (j.contains("lr_decay")) {
      const std::vector<int> e = json_ints(j.at("lr_decay"), "lr_decay");
      if (e.size() != 2)
        GAN_INPUT_FAIL("bad training configuration JSON: 'lr_decay' must be [start, end]");
      c.lr_decay_start = e[0];
      c.lr_decay_end = e[1];
      if (!c.has_lr_decay())
        GAN_INPUT_FAIL("bad training configuration JSON: 'lr_decay' must end after epoch 0");
    }
    if (j.contains("sample_bn")) {
      if (!j.at("sample_bn").is_string())
        GAN_INPUT_FAIL("bad training configuration JSON: 'sample_bn' must be a string");
      c.sample_bn = parse_sample_bn(j.at("sample_bn").get<std::string>());
    }
    if (j.contains("sample_bn_batch"))
      c.sample_bn_batch = json_int<int>(j.at("sample_bn_batch"), "sample_bn_batch");
  } catch (const nlohmann::json::exception& e) {
    GAN_INPUT_FAIL("bad training configuration JSON: " << e.what());
  }
  c.validate();
  return c;
}

}  // namespace gan
