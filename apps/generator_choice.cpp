/*
 * generator_choice.cpp — GeneratorChoice (flags) + TrainConfig -> GenerateOptions.
 */
#include "apps/generator_choice.hpp"

#include "engine/base/error.hpp"

namespace gan {

GenerateOptions resolve_generator_choice(const GeneratorChoice& choice, const TrainConfig& cfg,
                                         const std::string& source) {
  GenerateOptions g;
  if (choice.weights == "ema") {
    if (!cfg.has_ema())
      GAN_INPUT_FAIL(source << " has no weight average of G (it was trained without --g-ema); "
                            << "ask for the raw weights");
    g.weights = SampleWeights::Ema;
  } else if (choice.weights == "raw") {
    g.weights = SampleWeights::Raw;
  } else if (choice.weights.empty()) {
    g.weights = cfg.has_ema() ? SampleWeights::Ema : SampleWeights::Raw;
  } else {
    GAN_INPUT_FAIL("--weights must be 'raw' or 'ema', got '" << choice.weights << "'");
  }
  g.bn = choice.bn.empty() ? cfg.sample_bn : parse_sample_bn(choice.bn);
  g.bn_batch = choice.bn_batch > 0 ? choice.bn_batch : cfg.sample_chunk();
  if (g.bn == SampleBn::Train && g.bn_batch < 2)
    GAN_INPUT_FAIL("--sample-bn-batch must be at least 2, got " << g.bn_batch);
  return g;
}

std::string describe(const GenerateOptions& g) {
  std::string s = g.weights == SampleWeights::Ema ? "weights ema" : "weights raw";
  s += ", BatchNorm ";
  s += sample_bn_name(g.bn);
  if (g.bn == SampleBn::Train) s += " (chunks of " + std::to_string(g.bn_batch) + ")";
  return s;
}

}  // namespace gan
