/*
 * bench_command.cpp — `gan_cuda bench`: times the training iteration of engine/trainer.hpp.
 *
 * The iteration timed is the plain one (TrainConfig::plain(): Algorithm 1 without label
 * smoothing or G's weight average), the step the PyTorch peer runs, so that both programs do
 * the same work; the default recipe adds one pass over G's parameters (the average).
 *
 * Setup: loads --data, builds the trainer for --batch (CUDA graph unless --no-graph),
 * initialises the weights (optionally saving them with --save-init for the PyTorch peer,
 * tools/bench/torch_gan.py --init), counts the ops of one iteration (the first, which is the
 * graph capture where there is one) and runs --warmup iterations. Then blocks of
 * --iters-per-block iterations are timed with Backend::time_ms (CUDA events on the stream
 * on CUDA; the host's steady clock around synchronize() elsewhere). When an epoch's batches
 * run out inside a block the next epoch is begun there, as in training, so its shuffle is part
 * of the time.
 *
 * Without --serve it times --blocks blocks. With --serve (tools/bench/run_bench.py drives
 * several programs and alternates their blocks) it prints "READY" once set up, then reads
 * lines from stdin: "block" times one block and prints "BLOCK <ms>"; "quit" or the end of the
 * input finishes. Either way it writes --json: every block's milliseconds, microseconds per
 * iteration (median, p10, p90), images per second (batch size x D steps per iteration),
 * each block's process CPU time (user + system, all threads: on a shared machine the wall
 * time also holds other programs' turns), on the CPU the thread count and the matrix-product
 * kernel,
 * ops and kernels per iteration, the iteration's FLOPs and compulsory bytes
 * (apps/bench/iteration_cost.hpp), and the training counters (to show nothing was skipped).
 */
#include <sys/resource.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/app.hpp"
#include "engine/io/atomic_file.hpp"
#include "engine/checkpoint.hpp"
#include "apps/bench/counting_backend.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "apps/bench/iteration_cost.hpp"
#include "engine/eval/sample_stats.hpp"
#include "engine/trainer.hpp"
#include "kernels/cpu/cpu_backend.hpp"

namespace gan {

namespace {

nlohmann::json summary_json(const SampleSummary& s) {
  return {{"n", s.n},       {"median", s.median}, {"p10", s.p10}, {"p90", s.p90},
          {"mean", s.mean}, {"min", s.min},       {"max", s.max}};
}

// CPU time (user + system, all threads) this process has used, in milliseconds.
double process_cpu_ms() {
  struct rusage u {};
  ::getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int run_bench(const BenchOptions& opt, std::ostream& out, std::istream& in) {
  const auto t_start = std::chrono::steady_clock::now();
  const Dataset data = load_mnist(opt.data, Split::Train);
  TrainConfig config = TrainConfig::plain();
  config.batch_size = opt.batch;
  config.seed = opt.seed;
  config.spec.image_h = data.rows;
  config.spec.image_w = data.cols;
  config.validate();
  if (opt.json.empty() && opt.save_init.empty())
    GAN_INPUT_FAIL("bench: give --json FILE (where the results go) or --save-init FILE");
  if (data.count < config.batch_size * config.d_steps)
    GAN_INPUT_FAIL("--batch " << opt.batch << " is larger than the " << data.count
                              << " images of " << opt.data);

  const auto device_backend = select_backend(opt.device, opt.tf32, out, opt.threads);
  CountingBackend backend(*device_backend);
  for (const auto& [op, variant] : opt.kernels) backend.select_kernel(op, variant);
  const bool graph = !opt.no_graph && backend.supports_graphs();

  Trainer trainer(backend, config, graph);
  trainer.set_data(data);
  trainer.init_weights();
  if (!opt.save_init.empty())
    save_checkpoint(opt.save_init, config, trainer.state(), /*weights_only=*/true);
  if (opt.blocks == 0 && !opt.serve) {
    out << "initial weights written to " << opt.save_init << "\n";
    return 0;
  }

  const int per_epoch = trainer.iterations_per_epoch();
  int64_t epoch = 0;
  int in_epoch = 0;
  auto step = [&] {
    if (in_epoch == per_epoch) {
      trainer.begin_epoch(++epoch);
      in_epoch = 0;
    }
    trainer.run_iteration();
    ++in_epoch;
  };

  // The first iteration issues every op once (the capture, with a graph): count them there.
  backend.reset_counts();
  const double first_ms = backend.time_ms(step);
  const uint64_t ops_per_iter = backend.ops();
  const long long graph_kernels = backend.graph_kernel_count();
  for (int i = 0; i < opt.warmup; ++i) step();
  backend.synchronize();
  const double setup_s = seconds_since(t_start);

  std::vector<double> block_cpu_ms;
  auto time_block = [&] {
    const double cpu0 = process_cpu_ms();
    const double ms = backend.time_ms([&] {
      for (int i = 0; i < opt.iters_per_block; ++i) step();
    });
    block_cpu_ms.push_back(process_cpu_ms() - cpu0);
    return ms;
  };
  std::vector<double> block_ms;
  if (opt.serve) {
    out << "READY " << backend.name() << std::endl;
    std::string line;
    while (std::getline(in, line)) {
      if (line == "quit") break;
      if (line != "block")
        GAN_INPUT_FAIL("bench --serve: expected 'block' or 'quit' on stdin, got '" << line
                                                                                 << "'");
      block_ms.push_back(time_block());
      out << "BLOCK " << block_ms.back() << " " << block_cpu_ms.back() << std::endl;
    }
  } else {
    for (int b = 0; b < opt.blocks; ++b) block_ms.push_back(time_block());
  }

  const StepCounters c = trainer.counters();
  const StepMetrics m = trainer.metrics();
  const IterationCost cost = iteration_cost(config);
  nlohmann::json j;
  j["program"] = "gan_cuda";
  j["variant"] = opt.no_graph ? "eager" : "graph";
  j["graph_captured"] = graph;  // false where the backend has no graphs (the CPU)
  j["backend"] = backend.name();
  j["device"] = backend.is_cuda() ? "cuda" : "cpu";
  j["batch"] = config.batch_size;
  j["d_steps"] = config.d_steps;
  j["tf32"] = opt.tf32;
  j["precision"] = opt.tf32 ? "tf32" : "fp32";
  j["images"] = data.count;
  j["iters_per_epoch"] = per_epoch;
  j["warmup"] = opt.warmup;
  j["iters_per_block"] = opt.iters_per_block;
  j["blocks"] = block_ms.size();
  j["block_ms"] = block_ms;
  j["block_cpu_ms"] = block_cpu_ms;  // process CPU time (user + system) of each block
  if (!backend.is_cuda()) {
    std::string gemm = "auto";
    for (const OpVariants& v : backend.kernel_variants())
      if (v.op == "gemm") gemm = v.selected;
    j["threads"] = opt.threads > 0 ? opt.threads : cpu_default_threads();
    j["cpu_gemm"] = cpu_gemm_description(gemm);
  }
  j["setup_s"] = setup_s;
  j["first_iteration_ms"] = first_ms;
  j["ops_per_iter"] = ops_per_iter;
  j["ops_by_name"] = backend.ops_by_name();
  j["kernels_per_iter"] = graph_kernels >= 0 ? nlohmann::json(graph_kernels) : nlohmann::json();
  j["flops_per_iter"] = cost.matmul_flops;
  j["elementwise_flops_per_iter"] = cost.elementwise_flops;
  j["min_bytes_per_iter"] = cost.min_bytes;
  j["params"] = {{"G", cost.params[0]}, {"D", cost.params[1]}};
  j["iterations_run"] = c.iteration;
  j["skipped"] = {{"G", c.skipped[0]}, {"D", c.skipped[1]}};
  j["last_d_loss"] = m.d_loss;
  j["last_g_loss"] = m.g_loss;
  nlohmann::json kernels = nlohmann::json::object();
  for (const OpVariants& v : backend.kernel_variants()) kernels[v.op] = v.selected;
  j["kernel_choices"] = kernels;
  if (!block_ms.empty()) {
    std::vector<double> us;
    for (double ms : block_ms) us.push_back(ms * 1000.0 / opt.iters_per_block);
    const SampleSummary s = summarize(us);
    j["us_per_iter"] = summary_json(s);
    j["images_per_s"] = config.batch_size * config.d_steps * 1e6 / s.median;
    out << "bench " << j["variant"].get<std::string>()
        << (graph || opt.no_graph ? "" : " (none captured)") << " "
        << j["precision"].get<std::string>()
        << " batch " << config.batch_size << " on " << backend.name() << ": " << s.median
        << " us/iteration (p10 " << s.p10 << ", p90 " << s.p90 << ", " << block_ms.size()
        << " blocks of " << opt.iters_per_block << "), " << ops_per_iter << " ops/iteration\n";
  }
  if (!opt.json.empty()) write_file_atomic(opt.json, j.dump(1) + "\n");
  if (opt.serve) out << "DONE" << std::endl;
  return 0;
}

}  // namespace gan
