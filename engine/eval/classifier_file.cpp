/*
 * classifier_file.cpp — ClassifierFile <-> safetensors.
 */
#include "engine/eval/classifier_file.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/base/error.hpp"
#include "engine/io/safetensors.hpp"

namespace gan {

namespace {

constexpr const char* kFormat = "gan_cuda-classifier";
constexpr const char* kVersion = "1";

std::string config_json(const ClassifierSpec& s) {
  nlohmann::json j;
  j["image_h"] = s.image_h;
  j["image_w"] = s.image_w;
  j["widths"] = s.widths;
  j["classes"] = s.classes;
  j["activation"] = "relu";
  return j.dump();
}

}  // namespace

void save_classifier(const std::string& path, const ClassifierFile& c) {
  c.spec.validate();
  const NetLayout net = layout_classifier(c.spec);
  GAN_CHECK(c.params.size() == net.param_count, "classifier parameters of the wrong size");
  for (float x : c.params)
    if (!std::isfinite(x)) GAN_FAIL("refusing to write " << path << ": non-finite classifier weights");
  SafetensorsWriter w;
  for (const TensorEntry& e : net.params) w.add_f32(e.name, e.shape, c.params.data() + e.offset);
  w.set_metadata("format", kFormat);
  w.set_metadata("version", kVersion);
  w.set_metadata("config", config_json(c.spec));
  w.set_metadata("training", c.training.empty() ? "{}" : c.training);
  w.set_metadata("test_accuracy", c.test_accuracy);
  w.write(path);
}

ClassifierFile load_classifier(const std::string& path) {
  const SafetensorsFile f = SafetensorsFile::read(path);
  if (!f.metadata().count("format") || f.meta("format") != kFormat)
    GAN_INPUT_FAIL(path << ": not a gan_cuda classifier (no format=" << kFormat
                        << " metadata; `gan_cuda train-classifier` writes one)");
  if (f.meta("version") != kVersion)
    GAN_INPUT_FAIL(path << ": classifier version " << f.meta("version") << " is not supported "
                        << "(this build reads version " << kVersion << ")");
  ClassifierFile c;
  try {
    const nlohmann::json j = nlohmann::json::parse(f.meta("config"));
    c.spec.image_h = j.at("image_h").get<int>();
    c.spec.image_w = j.at("image_w").get<int>();
    c.spec.widths = j.at("widths").get<std::vector<int>>();
    c.spec.classes = j.at("classes").get<int>();
    if (j.value("activation", std::string("relu")) != "relu")
      GAN_INPUT_FAIL(path << ": classifier activation " << j["activation"] << " is not supported");
  } catch (const nlohmann::json::exception& e) {
    GAN_INPUT_FAIL(path << ": bad classifier 'config' metadata: " << e.what());
  }
  try {
    c.spec.validate();
  } catch (const InputError& e) {
    GAN_INPUT_FAIL(path << ": " << e.what());
  }
  const NetLayout net = layout_classifier(c.spec);
  c.params.assign(net.param_count, 0.0f);
  for (const TensorEntry& e : net.params) {
    const std::vector<float> v = f.f32(e.name, e.shape);
    std::copy(v.begin(), v.end(), c.params.begin() + e.offset);
  }
  for (float x : c.params)
    if (!std::isfinite(x)) GAN_INPUT_FAIL(path << ": the classifier holds non-finite weights");
  if (f.names().size() != net.params.size())
    GAN_INPUT_FAIL(path << ": holds " << f.names().size() << " tensors, a classifier of this "
                        << "config has " << net.params.size());
  c.training = f.metadata().count("training") ? f.meta("training") : "{}";
  c.test_accuracy = f.metadata().count("test_accuracy") ? f.meta("test_accuracy") : "";
  return c;
}

}  // namespace gan
