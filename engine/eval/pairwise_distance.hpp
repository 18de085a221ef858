/*
 * pairwise_distance.hpp — squared Euclidean distances between two sets of vectors on a
 * Backend, and the nearest-neighbour queries of the evaluation built on them.
 *
 * Sets are host arrays of rows, a [na, dim] and b [nb, dim], row-major floats. b is uploaded
 * once; a goes up in chunks of rows, and each chunk's products P = a_chunk b^T come from one
 * Backend::matmul ([rows, nb], on the GPU a cuBLAS product). The host then forms
 *   d2[i, j] = max(0, |a_i|^2 + |b_j|^2 - 2 P[i, j])      (norms in double)
 * and hands the chunk to a callback. A chunk holds at most `kChunkFloats` products, so memory
 * stays bounded whatever the set sizes.
 *
 * Queries (distances, not squared, in what they return):
 *   nearest_distance(a, b)        min_j |a_i - b_j| for each i
 *   kth_neighbour_distance(a, k)  the k-th smallest |a_i - a_j| over j != i (k >= 1, na > k)
 *   inside_any_ball(a, b, r)      for each i: whether |a_i - b_j| <= r_j for some j
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/backend.hpp"

namespace gan {

constexpr size_t kChunkFloats = size_t(1) << 24;  // 64 MiB of distances per chunk

// fn(first_row, rows, d2) with d2 [rows, nb] row-major (valid during the call only).
using DistanceChunkFn = std::function<void(int first_row, int rows, const float* d2)>;

void for_each_distance_chunk(Backend& be, const float* a, int na, const float* b, int nb,
                             int dim, const DistanceChunkFn& fn);

std::vector<float> nearest_distance(Backend& be, const float* a, int na, const float* b, int nb,
                                    int dim);
std::vector<float> kth_neighbour_distance(Backend& be, const float* a, int na, int dim, int k);
std::vector<uint8_t> inside_any_ball(Backend& be, const float* a, int na, const float* b, int nb,
                                     int dim, const std::vector<float>& radius);

// The median of v (mean of the two middle values for an even count); gan::Error when empty.
double median(std::vector<float> v);

}  // namespace gan
