/*
 * classifier_file.hpp — the digit classifier as a safetensors file PyTorch can load.
 *
 * Tensors: net.0.weight [w0, image_dim], net.0.bias [w0], net.2.weight, ... (F32; the
 * state_dict of Sequential([Linear, ReLU] x len(widths), Linear(classes))).
 * Metadata: format = "gan_cuda-classifier", version = "1",
 *   config   = {"image_h", "image_w", "widths", "classes", "activation": "relu"},
 *   training = free-form JSON saying how it was trained (epochs, batch size, lr, seed, data),
 *   test_accuracy = the accuracy on the official test set measured after training ("" if
 *   unknown).
 * Loading checks every tensor's name, dtype and shape against the config, and refuses
 * non-finite values: InputError naming the file.
 */
#pragma once

#include <string>
#include <vector>

#include "engine/eval/classifier.hpp"

namespace gan {

struct ClassifierFile {
  ClassifierSpec spec;
  std::vector<float> params;  // arena order of layout_classifier(spec)
  std::string training;       // JSON
  std::string test_accuracy;  // as written, e.g. "0.9712"
};

void save_classifier(const std::string& path, const ClassifierFile& c);
ClassifierFile load_classifier(const std::string& path);

}  // namespace gan
