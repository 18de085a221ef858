/*
 * train_config.hpp — everything that defines a training run's arithmetic, and its JSON form.
 *
 * The JSON is stored in every checkpoint's metadata, so that `--resume` can refuse a
 * checkpoint of another model and `sample` can rebuild the generator.
 */
#pragma once

#include <cstdint>
#include <string>

#include "engine/backend.hpp"
#include "engine/model_spec.hpp"

namespace gan {

enum class NanPolicy : uint8_t { Abort, Skip };

struct TrainConfig {
  ModelSpec spec;
  int batch_size = 128;
  int d_steps = 1;  // D updates per G update (k of Algorithm 1)
  GLoss g_loss = GLoss::NonSaturating;
  AdamConfig adam;  // the same hyper-parameters for G and D
  uint64_t seed = 0;
  NanPolicy nan_policy = NanPolicy::Abort;

  void validate() const;  // InputError naming the flag
};

const char* g_loss_name(GLoss l);
GLoss parse_g_loss(const std::string& s);  // "non-saturating" | "minimax"

std::string to_json(const TrainConfig& c);                 // one line
TrainConfig train_config_from_json(const std::string& s);  // InputError on bad JSON/fields

}  // namespace gan
