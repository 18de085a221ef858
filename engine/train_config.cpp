/*
 * train_config.cpp — validation and JSON (nlohmann) of TrainConfig.
 */
#include "engine/train_config.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/error.hpp"

namespace gan {

const char* g_loss_name(GLoss l) {
  return l == GLoss::NonSaturating ? "non-saturating" : "minimax";
}

GLoss parse_g_loss(const std::string& s) {
  if (s == "non-saturating" || s == "nonsaturating" || s == "ns") return GLoss::NonSaturating;
  if (s == "minimax") return GLoss::Minimax;
  GAN_INPUT_FAIL("--g-loss must be 'non-saturating' or 'minimax', got '" << s << "'");
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
  positive("--lr", adam.lr);
  positive("--eps", adam.eps);
  if (!(adam.beta1 >= 0.0f && adam.beta1 < 1.0f)) GAN_INPUT_FAIL("--beta1 must be in [0, 1)");
  if (!(adam.beta2 >= 0.0f && adam.beta2 < 1.0f)) GAN_INPUT_FAIL("--beta2 must be in [0, 1)");
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
  j["lr"] = c.adam.lr;
  j["beta1"] = c.adam.beta1;
  j["beta2"] = c.adam.beta2;
  j["eps"] = c.adam.eps;
  j["seed"] = c.seed;
  j["nan_policy"] = c.nan_policy == NanPolicy::Abort ? "abort" : "skip";
  return j.dump();
}

TrainConfig train_config_from_json(const std::string& s) {
  TrainConfig c;
  try {
    const nlohmann::json j = nlohmann::json::parse(s);
    c.spec.z_dim = j.at("z_dim").get<int>();
    c.spec.g_widths = j.at("g_widths").get<std::vector<int>>();
    c.spec.d_widths = j.at("d_widths").get<std::vector<int>>();
    c.spec.image_h = j.at("image_h").get<int>();
    c.spec.image_w = j.at("image_w").get<int>();
    c.spec.leaky_slope = j.at("leaky_slope").get<float>();
    c.spec.bn_eps = j.at("bn_eps").get<float>();
    c.spec.bn_momentum = j.at("bn_momentum").get<float>();
    c.batch_size = j.at("batch_size").get<int>();
    c.d_steps = j.at("d_steps").get<int>();
    c.g_loss = parse_g_loss(j.at("g_loss").get<std::string>());
    c.adam.lr = j.at("lr").get<float>();
    c.adam.beta1 = j.at("beta1").get<float>();
    c.adam.beta2 = j.at("beta2").get<float>();
    c.adam.eps = j.at("eps").get<float>();
    c.seed = j.at("seed").get<uint64_t>();
    const std::string np = j.value("nan_policy", std::string("abort"));
    if (np != "abort" && np != "skip") GAN_INPUT_FAIL("unknown nan_policy '" << np << "'");
    c.nan_policy = np == "abort" ? NanPolicy::Abort : NanPolicy::Skip;
  } catch (const nlohmann::json::exception& e) {
    GAN_INPUT_FAIL("bad training configuration JSON: " << e.what());
  }
  c.validate();
  return c;
}

}  // namespace gan
