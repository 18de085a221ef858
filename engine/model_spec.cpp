/*
 * model_spec.cpp — validation of a ModelSpec and the arena layouts of G and D.
 */
#include "engine/model_spec.hpp"

#include <algorithm>
#include <cmath>

#include "engine/base/error.hpp"

namespace gan {

const char* act_name(Act a) {
  switch (a) {
    case Act::None: return "none";
    case Act::ReLU: return "relu";
    case Act::LeakyReLU: return "leaky_relu";
    case Act::Sigmoid: return "sigmoid";
  }
  return "?";
}

// Largest width accepted for any layer or image: keeps every [batch, width] buffer and
// every weight matrix index far inside 32-bit range on both backends.
constexpr int kMaxWidth = 1 << 16;

void ModelSpec::validate() const {
  auto check_width = [](const char* what, int w) {
    if (w < 1 || w > kMaxWidth)
      GAN_INPUT_FAIL(what << " must be between 1 and " << kMaxWidth << ", got " << w);
  };
  check_width("--z-dim", z_dim);
  if (g_widths.empty()) GAN_INPUT_FAIL("the generator needs at least one hidden layer");
  if (d_widths.empty()) GAN_INPUT_FAIL("the discriminator needs at least one hidden layer");
  for (int w : g_widths) check_width("a generator width", w);
  for (int w : d_widths) check_width("a discriminator width", w);
  if (image_h < 1 || image_w < 1 || static_cast<long long>(image_h) * image_w > kMaxWidth)
    GAN_INPUT_FAIL("image size " << image_h << "x" << image_w << " is not supported (at most "
                                 << kMaxWidth << " pixels)");
  if (!(leaky_slope >= 0.0f && leaky_slope < 1.0f))
    GAN_INPUT_FAIL("LeakyReLU slope must be in [0, 1), got " << leaky_slope);
  if (!(bn_eps > 0.0f) || !std::isfinite(bn_eps)) GAN_INPUT_FAIL("BatchNorm eps must be > 0");
  if (!(bn_momentum >= 0.0f && bn_momentum <= 1.0f))
    GAN_INPUT_FAIL("--bn-momentum (BatchNorm momentum) must be in [0, 1], got " << bn_momentum);
}

bool ModelSpec::operator==(const ModelSpec& o) const {
  return z_dim == o.z_dim && g_widths == o.g_widths && d_widths == o.d_widths &&
         image_h == o.image_h && image_w == o.image_w && leaky_slope == o.leaky_slope &&
         bn_eps == o.bn_eps && bn_momentum == o.bn_momentum;
}

size_t TensorEntry::numel() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

int NetLayout::max_width() const {
  int w = 0;
  for (const DenseDesc& d : layers) w = std::max({w, d.in, d.out});
  return w;
}

namespace {

// Appends one Linear (+BN) layer; `module` is the index of its Linear in the Sequential.
void add_layer(NetLayout& net, const DenseDesc& d, int module) {
  DenseOffsets off;
  const std::string lin = "net." + std::to_string(module);
  auto add_param = [&](const std::string& name, std::vector<int64_t> shape) {
    TensorEntry e{name, std::move(shape), net.param_count};
    net.param_count += e.numel();
    net.params.push_back(e);
    return e.offset;
  };
  off.W = add_param(lin + ".weight", {d.out, d.in});
  off.b = add_param(lin + ".bias", {d.out});
  if (d.batchnorm) {
    const std::string bn = "net." + std::to_string(module + 1);
    off.gamma = static_cast<long long>(add_param(bn + ".weight", {d.out}));
    off.beta = static_cast<long long>(add_param(bn + ".bias", {d.out}));
    for (const char* s : {".running_mean", ".running_var"}) {
      TensorEntry e{bn + s, {d.out}, net.stat_count};
      net.stat_count += e.numel();
      net.buffers.push_back(e);
    }
    off.running_mean = static_cast<long long>(net.buffers[net.buffers.size() - 2].offset);
    off.running_var = static_cast<long long>(net.buffers.back().offset);
    net.bn_modules.push_back(bn);
  }
  net.layers.push_back(d);
  net.offsets.push_back(off);
}

}  // namespace

NetLayout layout_generator(const ModelSpec& s) {
  NetLayout net;
  int in = s.z_dim, module = 0;
  for (int w : s.g_widths) {
    DenseDesc d;
    d.in = in; d.out = w; d.batchnorm = true; d.act = Act::ReLU;
    d.bn_eps = s.bn_eps; d.bn_momentum = s.bn_momentum;
    add_layer(net, d, module);
    module += 3;  // Linear, BatchNorm1d, ReLU
    in = w;
  }
  DenseDesc out;
  out.in = in; out.out = s.image_dim(); out.act = Act::Sigmoid;
  add_layer(net, out, module);
  return net;
}

NetLayout layout_discriminator(const ModelSpec& s) {
  NetLayout net;
  int in = s.image_dim(), module = 0;
  for (int w : s.d_widths) {
    DenseDesc d;
    d.in = in; d.out = w; d.act = Act::LeakyReLU; d.slope = s.leaky_slope;
    add_layer(net, d, module);
    module += 2;  // Linear, LeakyReLU
    in = w;
  }
  DenseDesc head;
  head.in = in; head.out = 1; head.act = Act::None;
  add_layer(net, head, module);
  return net;
}

}  // namespace gan
