/*
 * iteration_cost.hpp — the arithmetic and the compulsory memory traffic of one training
 * iteration (engine/trainer.hpp), from the layer shapes: the floor the benchmarks compare
 * measured times with.
 *
 * FLOPs: 2 * rows * in * out for every matrix product the iteration needs, counted exactly
 * (B = batch size, k = D steps, F(net) = sum over its Linear layers of 2 * in * out,
 * F0 = the same for its first layer only):
 *   each D step:  G forward B F(G); D forward, dW and dX on 2B rows: 2B F(D) each, no dX
 *                 for D's first layer (its input is data): 2B (3 F(D) - F0(D))
 *   the G step:   G forward B F(G); D forward and dX (no dW) on B rows: 2 B F(D);
 *                 G dW B F(G) and dX B (F(G) - F0(G)) (noise needs no gradient)
 * BatchNorm, activations, the loss and Adam add O(rows * width + params) FLOPs, which are
 * reported apart (elementwise_flops, one per element touched) and left out of the floor.
 *
 * Bytes: a model of the traffic no implementation can avoid if nothing stays cached between
 * ops — every tensor written once and read once by its consumer:
 *   per optimizer update of a network with n parameters: 32 n (the gradient written by the
 *   backward pass; p, g, m, v read and p, m, v written by Adam);
 *   every product that reads a weight matrix (forward and dX): 4 in out;
 *   every layer output in a forward pass and every input gradient in a backward pass:
 *   8 rows * width (written, then read);
 *   per D step: the real batch, B * image_dim bytes of images read and 8 B * image_dim as
 *   floats; per noise draw 8 B * z_dim.
 * The floor of an iteration is max(FLOPs / matrix-product rate, bytes / copy bandwidth),
 * computed by tools/bench/report.py from the measured ceilings.
 */
#pragma once

#include <cstdint>

#include "engine/train_config.hpp"

namespace gan {

struct IterationCost {
  double matmul_flops = 0;       // matrix products of one iteration
  double elementwise_flops = 0;  // everything else, one FLOP per element touched (approximate)
  double min_bytes = 0;          // compulsory traffic, the model above
  int64_t params[2] = {0, 0};    // parameters of G and D
};

IterationCost iteration_cost(const TrainConfig& c);

}  // namespace gan
