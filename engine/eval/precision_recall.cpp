/*
 * precision_recall.cpp — k-NN balls and membership counts.
 */
#include "engine/eval/precision_recall.hpp"

#include "engine/base/error.hpp"
#include "engine/eval/pairwise_distance.hpp"

namespace gan {

namespace {

double fraction(const std::vector<uint8_t>& v) {
  size_t in = 0;
  for (uint8_t b : v) in += b;
  return v.empty() ? 0.0 : double(in) / double(v.size());
}

}  // namespace

std::vector<float> manifold_radii(Backend& be, const float* x, int n, int dim, int k) {
  return kth_neighbour_distance(be, x, n, dim, k);
}

PrecisionRecall precision_recall(Backend& be, const float* real, int n_real,
                                 const std::vector<float>& real_radii, const float* fake,
                                 int n_fake, int dim, int k) {
  GAN_CHECK(real_radii.size() == static_cast<size_t>(n_real), "one radius per real point");
  PrecisionRecall pr;
  pr.k = k;
  const std::vector<float> fake_radii = manifold_radii(be, fake, n_fake, dim, k);
  pr.precision = fraction(inside_any_ball(be, fake, n_fake, real, n_real, dim, real_radii));
  pr.recall = fraction(inside_any_ball(be, real, n_real, fake, n_fake, dim, fake_radii));
  return pr;
}

PrecisionRecall precision_recall(Backend& be, const float* real, int n_real, const float* fake,
                                 int n_fake, int dim, int k) {
  return precision_recall(be, real, n_real, manifold_radii(be, real, n_real, dim, k), fake,
                          n_fake, dim, k);
}

}  // namespace gan
