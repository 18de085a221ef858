/*
 * model_spec.hpp — the architecture of both networks and where each tensor lives.
 *
 * ModelSpec holds the widths; layout_generator()/layout_discriminator() turn it into a
 * NetLayout: the list of dense layers (Linear [+ BatchNorm1d] + activation) and, for
 * each parameter tensor, its offset in the network's one flat parameter arena and its
 * PyTorch state_dict name. Gradients and Adam m/v use the same offsets in arenas of
 * the same size, so the optimizer is one pass over one buffer.
 *
 * PyTorch module structure that the names follow (tools/bench/torch_gan.py builds it):
 *   G.net = Sequential([Linear, BatchNorm1d, ReLU] x len(g_widths), Linear, Sigmoid)
 *   D.net = Sequential([Linear, LeakyReLU(0.2)] x len(d_widths), Linear)
 * so G's first Linear is "net.0", its BatchNorm "net.1", the next Linear "net.3", ...
 * Linear weights are [out, in] row-major, exactly nn.Linear.weight.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gan {

enum class Act : uint8_t { None, ReLU, LeakyReLU, Sigmoid };
const char* act_name(Act a);

struct ModelSpec {
  int z_dim = 64;
  std::vector<int> g_widths{128, 256, 512, 1024};
  std::vector<int> d_widths{512, 256, 128};
  int image_h = 28, image_w = 28;
  float leaky_slope = 0.2f;
  float bn_eps = 1e-5f;
  float bn_momentum = 0.1f;

  int image_dim() const { return image_h * image_w; }
  // Throws InputError naming the field when a size is out of range.
  void validate() const;
  bool operator==(const ModelSpec& o) const;
};

// One Linear (+ optional BatchNorm1d) + activation layer.
struct DenseDesc {
  int in = 0, out = 0;
  bool batchnorm = false;
  Act act = Act::None;
  float slope = 0.0f;  // LeakyReLU negative slope
  float bn_eps = 1e-5f, bn_momentum = 0.1f;
};

// Offsets (in floats) of one layer's tensors in the parameter arena and, for BatchNorm
// layers, in the running-statistics arena. -1 where the layer has no such tensor.
struct DenseOffsets {
  size_t W = 0, b = 0;
  long long gamma = -1, beta = -1;
  long long running_mean = -1, running_var = -1;
};

struct TensorEntry {
  std::string name;          // state_dict name within the network, e.g. "net.0.weight"
  std::vector<int64_t> shape;
  size_t offset = 0;         // in floats, within its arena
  size_t numel() const;
};

struct NetLayout {
  std::vector<DenseDesc> layers;     // the last layer of D is the logit head (out = 1)
  std::vector<DenseOffsets> offsets;
  std::vector<TensorEntry> params;   // in arena order
  std::vector<TensorEntry> buffers;  // BatchNorm running_mean/var, in stats-arena order
  std::vector<std::string> bn_modules;  // "net.1", ... (for num_batches_tracked)
  size_t param_count = 0;
  size_t stat_count = 0;
  int max_width() const;  // the widest activation, input included
};

NetLayout layout_generator(const ModelSpec& s);
NetLayout layout_discriminator(const ModelSpec& s);

}  // namespace gan
