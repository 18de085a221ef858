/*
 * checkpoint.cpp — TrainState <-> safetensors, with PyTorch names.
 */
#include "engine/checkpoint.hpp"

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "engine/base/error.hpp"
#include "engine/io/safetensors.hpp"

namespace gan {

namespace {

constexpr const char* kFormat = "gan_cuda-checkpoint";
constexpr const char* kVersion = "1";
const char* const kNetPrefix[2] = {"G.", "D."};
const char* const kAdamPrefix[2] = {"adam.G.", "adam.D."};
constexpr const char* kEmaPrefix = "G_ema.";

void check_finite(const std::vector<float>& v, const char* what, const std::string& path) {
  for (float x : v)
    if (!std::isfinite(x))
      GAN_FAIL("refusing to write " << path << ": " << what << " holds non-finite values");
}

std::string state_json(const TrainState& s) {
  const StepCounters& c = s.counters;
  nlohmann::json j;
  j["epoch"] = s.epoch;
  j["data_count"] = s.data_count;
  j["iteration"] = c.iteration;
  j["batch_cursor"] = c.batch_cursor;
  j["skipped"] = {c.skipped[0], c.skipped[1]};
  j["first_bad_iteration"] = {c.first_bad_iteration[0], c.first_bad_iteration[1]};
  return j.dump();
}

// A counter of the 'state' metadata: an integer in int64 range (get<int64_t>() would wrap a
// larger one and is undefined for a float out of range).
int64_t state_int(const nlohmann::json& v, const std::string& path) {
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)))
    GAN_INPUT_FAIL(path << ": bad 'state' metadata: " << v.dump()
                        << " is not an integer counter");
  return v.get<int64_t>();
}

}  // namespace

void save_checkpoint(const std::string& path, const TrainConfig& config, const TrainState& s,
                     bool weights_only) {
  const NetLayout nets[2] = {layout_generator(config.spec), layout_discriminator(config.spec)};
  SafetensorsWriter w;
  for (int q = 0; q < 2; ++q) {
    check_finite(s.params[q], q == 0 ? "the generator" : "the discriminator", path);
    for (const TensorEntry& e : nets[q].params)
      w.add_f32(kNetPrefix[q] + e.name, e.shape, s.params[q].data() + e.offset);
  }
  check_finite(s.bn_stats, "a BatchNorm running statistic", path);
  for (const TensorEntry& e : nets[0].buffers)
    w.add_f32(kNetPrefix[0] + e.name, e.shape, s.bn_stats.data() + e.offset);
  const int64_t tracked = s.counters.iteration * (config.d_steps + 1);
  for (const std::string& bn : nets[0].bn_modules)
    w.add_i64_scalar(kNetPrefix[0] + bn + ".num_batches_tracked", tracked);
  if (config.has_ema()) {
    GAN_CHECK(s.ema_params.size() == nets[0].param_count &&
                  s.ema_stats.size() == nets[0].stat_count,
              "the training state lacks the weight average its configuration asks for");
    check_finite(s.ema_params, "the generator's weight average", path);
    check_finite(s.ema_stats, "the weight average's BatchNorm statistics", path);
    for (const TensorEntry& e : nets[0].params)
      w.add_f32(kEmaPrefix + e.name, e.shape, s.ema_params.data() + e.offset);
    for (const TensorEntry& e : nets[0].buffers)
      w.add_f32(kEmaPrefix + e.name, e.shape, s.ema_stats.data() + e.offset);
    for (const std::string& bn : nets[0].bn_modules)
      w.add_i64_scalar(kEmaPrefix + bn + ".num_batches_tracked", tracked);
  }
  if (!weights_only) {
    for (int q = 0; q < 2; ++q) {
      check_finite(s.adam_m[q], "an Adam moment", path);
      check_finite(s.adam_v[q], "an Adam moment", path);
      for (const TensorEntry& e : nets[q].params) {
        w.add_f32(std::string(kAdamPrefix[q]) + "exp_avg." + e.name, e.shape,
                  s.adam_m[q].data() + e.offset);
        w.add_f32(std::string(kAdamPrefix[q]) + "exp_avg_sq." + e.name, e.shape,
                  s.adam_v[q].data() + e.offset);
      }
      w.add_i64_scalar(std::string(kAdamPrefix[q]) + "step", s.counters.adam_step[q]);
    }
  }
  w.set_metadata("format", kFormat);
  w.set_metadata("version", kVersion);
  w.set_metadata("config", to_json(config));
  w.set_metadata("state", state_json(s));
  w.set_metadata("weights_only", weights_only ? "true" : "false");
  w.write(path);
}

Checkpoint load_checkpoint(const std::string& path) {
  const SafetensorsFile f = SafetensorsFile::read(path);
  if (!f.metadata().count("format") || f.meta("format") != kFormat)
    GAN_INPUT_FAIL(path << ": not a gan_cuda checkpoint (no format=" << kFormat << " metadata)");
  if (f.meta("version") != kVersion)
    GAN_INPUT_FAIL(path << ": checkpoint version " << f.meta("version") << " is not supported "
                        << "(this build reads version " << kVersion << ")");
  Checkpoint ck;
  try {
    ck.config = train_config_from_json(f.meta("config"));
  } catch (const InputError& e) {
    GAN_INPUT_FAIL(path << ": " << e.what());
  }
  ck.has_optimizer = f.meta("weights_only") != "true";
  const NetLayout nets[2] = {layout_generator(ck.config.spec),
                             layout_discriminator(ck.config.spec)};
  // Every tensor the configuration implies must be in the file, with its shape, before any
  // array is sized from the configuration: a crafted configuration cannot make the loader
  // allocate more than the file holds.
  auto require = [&](const std::string& name, const std::vector<int64_t>& shape) {
    const StTensor& t = f.get(name);
    if (t.dtype != DType::F32 || t.shape != shape) (void)f.f32(name, shape);  // names the mismatch
  };
  for (int q = 0; q < 2; ++q)
    for (const TensorEntry& e : nets[q].params) require(kNetPrefix[q] + e.name, e.shape);
  for (const TensorEntry& e : nets[0].buffers) require(kNetPrefix[0] + e.name, e.shape);
  if (ck.config.has_ema()) {
    for (const TensorEntry& e : nets[0].params)
      if (!f.has(kEmaPrefix + e.name))
        GAN_INPUT_FAIL(path << ": its configuration has --g-ema " << ck.config.g_ema
                            << " but the file lacks " << kEmaPrefix << e.name);
    for (const TensorEntry& e : nets[0].params) require(kEmaPrefix + e.name, e.shape);
    for (const TensorEntry& e : nets[0].buffers) require(kEmaPrefix + e.name, e.shape);
  }
  TrainState& s = ck.state;
  // Copies tensor `name` into `dst` at `e.offset`; a non-finite value refuses the file.
  auto read_into = [&](const std::string& name, const TensorEntry& e, std::vector<float>& dst) {
    const std::vector<float> v = f.f32(name, e.shape);
    for (float x : v)
      if (!std::isfinite(x))
        GAN_INPUT_FAIL(path << ": tensor " << name << " holds non-finite values");
    std::copy(v.begin(), v.end(), dst.begin() + e.offset);
  };
  for (int q = 0; q < 2; ++q) {
    s.params[q].assign(nets[q].param_count, 0.0f);
    s.adam_m[q].assign(nets[q].param_count, 0.0f);
    s.adam_v[q].assign(nets[q].param_count, 0.0f);
    for (const TensorEntry& e : nets[q].params) {
      read_into(kNetPrefix[q] + e.name, e, s.params[q]);
      if (!ck.has_optimizer) continue;
      read_into(std::string(kAdamPrefix[q]) + "exp_avg." + e.name, e, s.adam_m[q]);
      read_into(std::string(kAdamPrefix[q]) + "exp_avg_sq." + e.name, e, s.adam_v[q]);
    }
    if (ck.has_optimizer)
      s.counters.adam_step[q] = f.i64_scalar(std::string(kAdamPrefix[q]) + "step");
  }
  s.bn_stats.assign(nets[0].stat_count, 0.0f);
  for (const TensorEntry& e : nets[0].buffers) read_into(kNetPrefix[0] + e.name, e, s.bn_stats);
  if (ck.config.has_ema()) {
    s.ema_params.assign(nets[0].param_count, 0.0f);
    s.ema_stats.assign(nets[0].stat_count, 0.0f);
    for (const TensorEntry& e : nets[0].params) read_into(kEmaPrefix + e.name, e, s.ema_params);
    for (const TensorEntry& e : nets[0].buffers) read_into(kEmaPrefix + e.name, e, s.ema_stats);
  }
  try {
    const nlohmann::json j = nlohmann::json::parse(f.meta("state"));
    s.epoch = state_int(j.at("epoch"), path);
    s.data_count = j.contains("data_count") ? state_int(j.at("data_count"), path) : 0;
    s.counters.iteration = state_int(j.at("iteration"), path);
    s.counters.batch_cursor = state_int(j.at("batch_cursor"), path);
    for (int q = 0; q < 2; ++q) {
      s.counters.skipped[q] = state_int(j.at("skipped").at(q), path);
      s.counters.first_bad_iteration[q] = state_int(j.at("first_bad_iteration").at(q), path);
    }
  } catch (const nlohmann::json::exception& e) {
    GAN_INPUT_FAIL(path << ": bad 'state' metadata: " << e.what());
  }
  if (s.epoch < 0 || s.data_count < 0 || s.counters.iteration < 0 ||
      s.counters.batch_cursor < 0 || s.counters.adam_step[0] < 0 || s.counters.adam_step[1] < 0 ||
      s.counters.skipped[0] < 0 || s.counters.skipped[1] < 0)
    GAN_INPUT_FAIL(path << ": negative counters in the checkpoint state");
  return ck;
}

}  // namespace gan
