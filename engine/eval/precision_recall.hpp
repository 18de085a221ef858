/*
 * precision_recall.hpp — improved precision and recall of a generative model
 * (Kynkäänniemi et al. 2019) in a feature space.
 *
 * Each set approximates its manifold by the union of balls centred on its points, the
 * radius of a ball being the distance to the point's k-th nearest other point in the set:
 *   precision = fraction of generated points inside the real manifold (some real ball)
 *   recall    = fraction of real points inside the generated manifold
 * Distances come from engine/eval/pairwise_distance.hpp. The real radii can be computed once
 * (manifold_radii) and reused for many generated sets.
 */
#pragma once

#include <vector>

#include "engine/backend.hpp"

namespace gan {

struct PrecisionRecall {
  double precision = 0, recall = 0;
  int k = 3;
};

// k-th nearest-neighbour distance of every row of x [n, dim] within x (n > k).
std::vector<float> manifold_radii(Backend& be, const float* x, int n, int dim, int k);

PrecisionRecall precision_recall(Backend& be, const float* real, int n_real,
                                 const std::vector<float>& real_radii, const float* fake,
                                 int n_fake, int dim, int k);
PrecisionRecall precision_recall(Backend& be, const float* real, int n_real, const float* fake,
                                 int n_fake, int dim, int k = 3);

}  // namespace gan
