/*
 * generator_choice.hpp — which weights and BatchNorm mode `sample`, `eval` and the training
 * run's grids and evaluations draw with.
 *
 * Defaults come from the run's configuration: the weight average when it has one
 * (--g-ema), else the raw weights; its --sample-bn and --sample-bn-batch. A flag overrides
 * each. Asking for the average of a generator trained without one is an InputError naming
 * `source` (the checkpoint, or the flag that asked).
 */
#pragma once

#include <string>

#include "apps/cli_options.hpp"
#include "engine/trainer.hpp"

namespace gan {

GenerateOptions resolve_generator_choice(const GeneratorChoice& choice, const TrainConfig& cfg,
                                         const std::string& source);

// One line for logs: "weights ema, BatchNorm eval" / "... train (chunks of 128)".
std::string describe(const GenerateOptions& g);

}  // namespace gan
