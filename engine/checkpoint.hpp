/*
 * checkpoint.hpp — training state as a safetensors file PyTorch can load.
 *
 * Tensor names (F32 unless said):
 *   G.<name>, D.<name>          parameters under PyTorch state_dict names (model_spec.hpp),
 *                               e.g. G.net.0.weight [128, 64]; G's BatchNorm buffers
 *                               G.net.1.running_mean / running_var and num_batches_tracked (I64 [])
 *   adam.G.exp_avg.<name>, adam.G.exp_avg_sq.<name>, adam.G.step (I64 []), same for D
 *   G_ema.<name>                with --g-ema: G's weight average and its BatchNorm running
 *                               statistics under G's names (weights-only files keep them too),
 *                               so {k[6:]: v for k startswith "G_ema."} is a G state_dict
 * so `{k[2:]: v for k, v in load_file(f).items() if k.startswith("G.")}` is G's state_dict.
 * Metadata: format = "gan_cuda-checkpoint", version = "1", config = TrainConfig JSON,
 * state = JSON of the counters, epoch and data_count (the number of training images; all RNG
 * state is here too: Philox streams are addressed by
 * seed + counters). A weights-only checkpoint (for sharing) omits the adam.* tensors.
 *
 * Saving refuses non-finite values and writes atomically (engine/io/atomic_file.hpp).
 */
#pragma once

#include <string>

#include "engine/train_config.hpp"
#include "engine/trainer.hpp"

namespace gan {

struct Checkpoint {
  TrainConfig config;
  TrainState state;
  bool has_optimizer = true;
};

void save_checkpoint(const std::string& path, const TrainConfig& config, const TrainState& state,
                     bool weights_only = false);
// InputError naming the file and the problem for anything missing, mis-shaped or corrupt.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace gan
