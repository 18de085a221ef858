/*
 * train_command.cpp — `gan_cuda [train]`: the training loop around gan::Trainer.
 *
 * Writes into --out: metrics.jsonl, samples/epoch_NNN.png (8x8 grid of the fixed noise
 * batch, eval-mode BatchNorm) and checkpoint.safetensors (replaced atomically). The saved
 * state names the next epoch to run and the batch cursor within it, so a run stopped
 * at an epoch boundary or by a signal continues exactly with --resume.
 */
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "apps/app.hpp"
#include "apps/train_log.hpp"
#include "engine/checkpoint.hpp"
#include "engine/error.hpp"
#include "engine/idx.hpp"
#include "engine/image_grid.hpp"
#include "engine/interrupt.hpp"
#include "engine/trainer.hpp"

namespace gan {

namespace {

constexpr int kGridSide = 8;

// Flags given with --resume must agree with the checkpoint they continue.
void check_resume_flags(const TrainOptions& opt, const TrainConfig& ck, const std::string& path) {
  const TrainConfig& f = opt.config;
  auto differs = [&](const char* flag) -> bool {
    const std::string s = flag;
    if (s == "--batch-size") return f.batch_size != ck.batch_size;
    if (s == "--z-dim") return f.spec.z_dim != ck.spec.z_dim;
    if (s == "--g-widths") return f.spec.g_widths != ck.spec.g_widths;
    if (s == "--d-widths") return f.spec.d_widths != ck.spec.d_widths;
    if (s == "--lr") return f.adam.lr != ck.adam.lr;
    if (s == "--beta1") return f.adam.beta1 != ck.adam.beta1;
    if (s == "--beta2") return f.adam.beta2 != ck.adam.beta2;
    if (s == "--g-loss") return f.g_loss != ck.g_loss;
    if (s == "--d-steps") return f.d_steps != ck.d_steps;
    if (s == "--seed") return f.seed != ck.seed;
    return false;
  };
  for (const std::string& flag : opt.explicit_flags)
    if (differs(flag.c_str()))
      GAN_INPUT_FAIL(flag << " differs from the value " << path << " was trained with (its "
                          << "configuration: " << to_json(ck) << "); drop the flag to continue "
                          << "that run");
}

std::string epoch_png(const std::string& dir, int64_t epoch) {
  char name[32];
  std::snprintf(name, sizeof name, "epoch_%03lld.png", static_cast<long long>(epoch));
  return (std::filesystem::path(dir) / name).string();
}

}  // namespace

int run_train(const TrainOptions& opt, std::ostream& out) {
  // ---- inputs, all checked before anything is written ---------------------------
  const Dataset data = load_mnist(opt.data, Split::Train);
  TrainConfig config = opt.config;
  Checkpoint resumed;
  const bool resuming = !opt.resume.empty();
  if (resuming) {
    resumed = load_checkpoint(opt.resume);
    if (!resumed.has_optimizer)
      GAN_INPUT_FAIL(opt.resume << " holds weights only (no Adam state): it cannot be resumed");
    check_resume_flags(opt, resumed.config, opt.resume);
    const NanPolicy policy = opt.explicit_flags.count("--nan-policy") ? config.nan_policy
                                                                     : resumed.config.nan_policy;
    config = resumed.config;
    config.nan_policy = policy;
    if (resumed.state.data_count != 0 && resumed.state.data_count != data.count)
      GAN_INPUT_FAIL(opt.resume << " was trained on " << resumed.state.data_count
                                << " images but " << opt.data << " holds " << data.count);
  }
  config.spec.image_h = data.rows;
  config.spec.image_w = data.cols;
  if (resuming && !(config.spec == resumed.config.spec))
    GAN_INPUT_FAIL(opt.resume << " is a model of " << resumed.config.spec.image_h << "x"
                              << resumed.config.spec.image_w << " images but " << opt.data
                              << " holds " << data.rows << "x" << data.cols);
  config.validate();

  const std::filesystem::path out_dir(opt.out);
  const std::string ckpt_path = (out_dir / "checkpoint.safetensors").string();
  const std::string metrics_path = (out_dir / "metrics.jsonl").string();
  const std::string samples_dir = (out_dir / "samples").string();
  if (!resuming) {
    for (const std::string& p : {ckpt_path, metrics_path})
      if (std::filesystem::exists(p))
        GAN_INPUT_FAIL(opt.out << " already holds a run (" << p << "); continue it with --resume "
                               << ckpt_path << " or choose another --out");
  }
  const auto backend = select_backend(opt.device, opt.tf32, out);
  for (const auto& [op, variant] : opt.kernels) backend->select_kernel(op, variant);
  ensure_writable_dir(opt.out);
  ensure_writable_dir(samples_dir);

  // ---- engine -------------------------------------------------------------------
  Trainer trainer(*backend, config, !opt.no_graph);
  trainer.set_data(data);
  if (resuming)
    trainer.set_state(resumed.state);
  else
    trainer.init_weights();
  const TrainState start = resuming ? resumed.state : TrainState{};
  const int64_t per_epoch = trainer.iterations_per_epoch();
  const int k = config.d_steps;
  if (start.epoch >= opt.epochs) {
    out << opt.resume << " has already trained " << start.epoch << " epochs (--epochs "
        << opt.epochs << "): nothing to do\n";
    return 0;
  }
  const int64_t total = per_epoch * opt.epochs;
  out << "training on " << backend->name() << ": " << data.count << " images, batch "
      << config.batch_size << ", " << per_epoch << " iterations/epoch, epochs "
      << start.epoch + 1 << ".." << opt.epochs << ", out " << opt.out << "\n";

  TrainLog log(metrics_path, out, ::isatty(STDOUT_FILENO) == 1, per_epoch, total,
               start.counters.iteration, config.batch_size * k);
  InterruptGuard interrupts;
  int64_t skipped_seen[2] = {start.counters.skipped[0], start.counters.skipped[1]};
  bool pending = false;  // a read-back in flight (CUDA: collected at the next log point)
  int64_t iteration = start.counters.iteration;

  auto collect = [&] {
    trainer.wait_readback();
    pending = false;
    const StepMetrics m = trainer.readback_metrics();
    const StepCounters c = trainer.readback_counters();
    log.record(m, c);
    for (int q = 0; q < 2; ++q) {
      if (c.skipped[q] == skipped_seen[q]) continue;
      const char* net = q == 0 ? "generator" : "discriminator";
      if (config.nan_policy == NanPolicy::Abort) {
        log.finish();
        std::ostringstream os;
        os << "non-finite " << net << " loss or gradient at step " << c.first_bad_iteration[q] + 1
           << " (epoch " << c.first_bad_iteration[q] / per_epoch + 1 << "); training stopped, "
           << "that update was not applied. "
           << (std::filesystem::exists(ckpt_path) ? "The last good checkpoint " + ckpt_path +
                                                        " was left as it was."
                                                  : std::string("No checkpoint was written."))
           << " Try a smaller --lr, or --nan-policy skip.";
        throw NonFiniteError(os.str());
      }
      log.message("warning: skipped " + std::to_string(c.skipped[q] - skipped_seen[q]) + " " +
                  net + " update(s) with non-finite values (total " +
                  std::to_string(c.skipped[q]) + ")");
      skipped_seen[q] = c.skipped[q];
    }
  };
  auto readback_now = [&] {
    if (pending) collect();
    trainer.request_readback();
    pending = true;
    collect();
  };
  auto save = [&](int64_t epoch_of_state, bool epoch_done) {
    TrainState s = trainer.state();
    if (epoch_done) {
      s.epoch = epoch_of_state + 1;
      s.counters.batch_cursor = 0;
    }
    save_checkpoint(ckpt_path, config, s);
  };

  for (int64_t epoch = start.epoch; epoch < opt.epochs; ++epoch) {
    if (epoch != start.epoch) trainer.begin_epoch(epoch);
    const int64_t first = epoch == start.epoch ? start.counters.batch_cursor / k : 0;
    for (int64_t it = first; it < per_epoch; ++it) {
      if (iteration == opt.profile_first) backend->profiler_start();
      trainer.run_iteration();
      if (iteration == opt.profile_last) backend->profiler_stop();
      ++iteration;
      if (iteration % opt.log_every == 0) {
        if (pending) collect();
        trainer.request_readback();
        pending = true;
        if (!backend->is_cuda()) collect();
      }
      if (InterruptGuard::requested()) {
        const int sig = InterruptGuard::signal_number();
        readback_now();
        save(epoch, it + 1 == per_epoch);
        log.message("interrupted (signal " + std::to_string(sig) + ") after step " +
                    std::to_string(iteration) + ": checkpoint written to " + ckpt_path +
                    "; continue with --resume " + ckpt_path);
        return 128 + sig;
      }
    }
    readback_now();
    const bool last = epoch + 1 == opt.epochs;
    if ((epoch + 1) % opt.sample_every == 0 || last) {
      const std::vector<float> grid =
          trainer.generate(kGridSide * kGridSide, Stream::FixedNoise, 0);
      write_png_grid(epoch_png(samples_dir, epoch + 1), grid.data(), kGridSide * kGridSide,
                     config.spec.image_h, config.spec.image_w, kGridSide);
    }
    if ((epoch + 1) % opt.checkpoint_every == 0 || last) save(epoch, true);
  }
  log.finish();
  out << "done: " << opt.epochs << " epochs, " << iteration << " steps; checkpoint "
      << ckpt_path << ", samples in " << samples_dir << ", metrics in " << metrics_path << "\n";
  return 0;
}

}  // namespace gan
