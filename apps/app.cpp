/*
 * app.cpp — command dispatch and the mapping of errors to messages and exit statuses.
 */
#include "apps/app.hpp"

#include <iostream>

#include "engine/base/error.hpp"

#ifndef GAN_DEFAULT_DATA
#define GAN_DEFAULT_DATA "data/mnist"
#endif

namespace gan {

int run_app(int argc, const char* const* argv) {
  try {
    const CliCommand cmd = parse_cli(argc, argv, GAN_DEFAULT_DATA);
    switch (cmd.kind) {
      case CliCommand::Kind::Help:
        std::cout << cmd.help;
        return 0;
      case CliCommand::Kind::Train: return run_train(cmd.train, std::cout);
      case CliCommand::Kind::Sample: return run_sample(cmd.sample, std::cout);
      case CliCommand::Kind::Kernels: return run_kernels(cmd.kernels, std::cout);
      case CliCommand::Kind::Bench: return run_bench(cmd.bench, std::cout, std::cin);
      case CliCommand::Kind::KernelBench: return run_kernel_bench(cmd.kernel_bench, std::cout);
      case CliCommand::Kind::Eval: return run_eval(cmd.eval, std::cout);
      case CliCommand::Kind::TrainClassifier:
        return run_train_classifier(cmd.train_classifier, std::cout);
    }
  } catch (const InputError& e) {
    std::cerr << "gan_cuda: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "gan_cuda: error: " << e.what() << "\n";
    return 1;
  }
  return 1;
}

}  // namespace gan
