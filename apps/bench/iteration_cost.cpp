/*
 * iteration_cost.cpp — the sums of iteration_cost.hpp, layer by layer.
 */
#include "apps/bench/iteration_cost.hpp"

#include <vector>

#include "engine/model_spec.hpp"

namespace gan {

namespace {

struct Tally {
  double flops = 0, elementwise = 0, bytes = 0;

  // One product of `rows` rows through layer d: forward (reads W, writes its output),
  // backward dW (writes the gradient, counted with the optimizer) or backward dX (reads W,
  // writes the input gradient).
  enum class Product { Forward, WeightGrad, InputGrad };
  void product(const DenseDesc& d, double rows, Product what) {
    const double in = d.in, out = d.out;
    flops += 2.0 * rows * in * out;
    switch (what) {
      case Product::Forward:
        bytes += 4.0 * in * out + 8.0 * rows * out;
        elementwise += rows * out * (d.batchnorm ? 4.0 : 2.0);  // bias, BatchNorm, activation
        break;
      case Product::WeightGrad:
        elementwise += rows * out * (d.batchnorm ? 6.0 : 2.0);  // db, dgamma/dbeta, act'
        break;
      case Product::InputGrad:
        bytes += 4.0 * in * out + 8.0 * rows * in;
        break;
    }
  }
  void forward(const NetLayout& n, double rows) {
    for (const DenseDesc& d : n.layers) product(d, rows, Product::Forward);
  }
  void optimizer(const NetLayout& n) {
    bytes += 32.0 * static_cast<double>(n.param_count);
    elementwise += 12.0 * static_cast<double>(n.param_count);  // finite check + Adam
  }
};

}  // namespace

IterationCost iteration_cost(const TrainConfig& c) {
  const NetLayout g = layout_generator(c.spec), d = layout_discriminator(c.spec);
  const double B = c.batch_size, dim = c.spec.image_dim(), zd = c.spec.z_dim;
  using P = Tally::Product;
  Tally t;
  for (int j = 0; j < c.d_steps; ++j) {
    t.bytes += 8.0 * B * zd;   // noise written, read
    t.forward(g, B);
    t.bytes += B * dim + 8.0 * B * dim;  // the real batch: images read, floats written, read
    t.forward(d, 2 * B);
    for (size_t l = 0; l < d.layers.size(); ++l) {
      t.product(d.layers[l], 2 * B, P::WeightGrad);
      if (l > 0) t.product(d.layers[l], 2 * B, P::InputGrad);
    }
    t.optimizer(d);
  }
  t.bytes += 8.0 * B * zd;
  t.forward(g, B);
  t.forward(d, B);
  for (const DenseDesc& l : d.layers) t.product(l, B, P::InputGrad);
  for (size_t l = 0; l < g.layers.size(); ++l) {
    t.product(g.layers[l], B, P::WeightGrad);
    if (l > 0) t.product(g.layers[l], B, P::InputGrad);
  }
  t.optimizer(g);

  IterationCost cost;
  cost.matmul_flops = t.flops;
  cost.elementwise_flops = t.elementwise;
  cost.min_bytes = t.bytes;
  cost.params[0] = static_cast<int64_t>(g.param_count);
  cost.params[1] = static_cast<int64_t>(d.param_count);
  return cost;
}

}  // namespace gan
