/*
 * app.hpp — the commands of gan_cuda, callable from main() and from tests.
 *
 * run_app parses the command line, runs the command, and turns every error into a
 * message on stderr and an exit status: 0 success, 1 runtime failure (CUDA, I/O, a
 * non-finite loss), 2 bad input (flags, data files, checkpoints), 130/143 interrupted.
 */
#pragma once

#include <istream>
#include <memory>
#include <ostream>
#include <string>

#include "engine/backend.hpp"
#include "apps/cli_options.hpp"
#include "engine/device_probe.hpp"
#include "engine/base/error.hpp"

namespace gan {

int run_app(int argc, const char* const* argv);

int run_train(const TrainOptions& opt, std::ostream& out);
int run_sample(const SampleOptions& opt, std::ostream& out);
int run_kernels(const KernelsOptions& opt, std::ostream& out);
// With opt.serve, reads "block" / "quit" lines from `in` (tools/bench/run_bench.py drives it).
int run_bench(const BenchOptions& opt, std::ostream& out, std::istream& in);
// Exit status 1 when a variant disagrees with the CPU reference.
int run_kernel_bench(const KernelBenchOptions& opt, std::ostream& out);
int run_eval(const EvalOptions& opt, std::ostream& out);
int run_train_classifier(const TrainClassifierOptions& opt, std::ostream& out);

// "auto": CUDA when a device exists; the CPU when the machine has none (no device, or no
// driver: saying so and why in one line on `log`); gan::Error naming the CUDA error when
// the driver or a device fails. "cuda": InputError when there is no device, gan::Error on a
// CUDA failure. "cpu": the CPU backend with `threads` threads (0: the cores this process
// may use; ignored by CUDA).
std::unique_ptr<Backend> select_backend(const std::string& device, bool tf32, std::ostream& log,
                                        int threads = 0);
// The decision of select_backend: true for the CUDA backend, given whether this build has
// one and what the machine's probe found.
bool choose_cuda(const std::string& device, bool tf32, bool cuda_built, const DeviceProbe& probe,
                 std::ostream& log);

// Raised when training stops on a non-finite loss or gradient (exit status 1).
class NonFiniteError : public Error {
 public:
  using Error::Error;
};

}  // namespace gan
