/*
 * train_command.cpp — `gan_cuda [train]`: the training loop around gan::Trainer.
 *
 * Writes into --out: metrics.jsonl, samples/epoch_NNN.png (8x8 grid of the fixed noise
 * batch; the weight average when --g-ema, BatchNorm per --sample-bn: apps/generator_choice.hpp), samples/progress.gif (those grids as an animation),
 * checkpoint.safetensors (replaced atomically) and, with --eval-every, evaluation records in
 * metrics.jsonl (apps/training_eval.hpp). The saved state names the next epoch to run and
 * the batch cursor within it, so a run stopped at an epoch boundary or by a signal continues
 * exactly with --resume.
 *
 * Stopping: the first SIGINT/SIGTERM finishes the current step, writes the checkpoint,
 * names it and returns 128 + signal (engine/interrupt.hpp). Whatever stops the process,
 * the last checkpoint written is complete; on --resume the run removes the temporary
 * files of writes that were cut short and the metrics.jsonl records past the checkpoint
 * (they are recomputed, identically), so the continued run is the uninterrupted one.
 */
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/app.hpp"
#include "apps/generator_choice.hpp"
#include "apps/train_log.hpp"
#include "apps/training_eval.hpp"
#include "engine/io/atomic_file.hpp"
#include "engine/checkpoint.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "engine/io/image_grid.hpp"
#include "engine/interrupt.hpp"
#include "engine/io/progress_gif.hpp"
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
    if (s == "--lr") return f.adam_g.lr != ck.adam_g.lr || f.adam_d.lr != ck.adam_d.lr;
    if (s == "--lr-g") return f.adam_g.lr != ck.adam_g.lr;
    if (s == "--lr-d") return f.adam_d.lr != ck.adam_d.lr;
    if (s == "--beta1") return f.adam_g.beta1 != ck.adam_g.beta1;
    if (s == "--beta2") return f.adam_g.beta2 != ck.adam_g.beta2;
    if (s == "--bn-momentum") return f.spec.bn_momentum != ck.spec.bn_momentum;
    if (s == "--d-dropout") return f.d_dropout != ck.d_dropout;
    if (s == "--real-label") return f.real_label != ck.real_label;
    if (s == "--g-ema") return f.g_ema != ck.g_ema;
    if (s == "--lr-decay-epochs")
      return f.lr_decay_start != ck.lr_decay_start || f.lr_decay_end != ck.lr_decay_end;
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
  // Past the decay's end both rates are 0: further epochs would change nothing but the
  // counters.
  if (ck.has_lr_decay() && opt.epochs > ck.lr_decay_end)
    GAN_INPUT_FAIL(path << " decays both learning rates to 0 at the end of epoch "
                        << ck.lr_decay_end << " (--lr-decay-epochs); --epochs " << opt.epochs
                        << " would train past it: resume with --epochs " << ck.lr_decay_end
                        << " or less");
}

// Counters of a checkpoint that is about to be continued on `data_count` images: the batch
// cursor must lie within an epoch, and the counters far from where the noise stream index
// (iteration * (k + 1), 56 bits) or int64 arithmetic would overflow.
void check_resumed_state(const TrainState& s, const TrainConfig& c, int data_count,
                         const std::string& path) {
  const int64_t k = c.d_steps;
  const int64_t per_epoch = data_count / (int64_t{c.batch_size} * k);
  const StepCounters& n = s.counters;
  if (n.batch_cursor % k != 0 || n.batch_cursor / k > per_epoch)
    GAN_INPUT_FAIL(path << ": batch cursor " << n.batch_cursor << " does not fit an epoch of "
                        << per_epoch << " iterations of " << k << " batch(es) of "
                        << c.batch_size << " (a checkpoint of another data set, or corrupt)");
  constexpr int64_t kMaxCount = int64_t{1} << 48;
  for (int64_t v : {s.epoch, n.iteration, n.adam_step[0], n.adam_step[1], n.skipped[0],
                    n.skipped[1]})
    if (v < 0 || v >= kMaxCount)
      GAN_INPUT_FAIL(path << ": a counter of the training state (" << v
                          << ") is out of range (corrupt checkpoint?)");
}

// Removes what writes cut short by a kill left in the output directory: temporary files
// "<name>.tmp.XXXXXX" of the files this command replaces (engine/io/atomic_file.hpp).
int remove_unfinished_writes(const std::string& out_dir, const std::string& samples_dir) {
  namespace fs = std::filesystem;
  auto ours = [](const std::string& name, bool sample) {
    const size_t tmp = name.rfind(".tmp.");
    if (tmp == std::string::npos || name.size() != tmp + 5 + 6) return false;
    const std::string base = name.substr(0, tmp);
    auto ends = [&](const char* suffix) {
      const size_t n = std::strlen(suffix);
      return base.size() > n && base.compare(base.size() - n, n, suffix) == 0;
    };
    if (sample) return ends(".png") || ends(".gif");  // epoch_NNN.png, progress.gif
    return base == "checkpoint.safetensors" || base == "metrics.jsonl";
  };
  int removed = 0;
  for (const auto& [dir, sample] : {std::pair{out_dir, false}, std::pair{samples_dir, true}}) {
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
      if (!e.is_regular_file(ec) || !ours(e.path().filename().string(), sample)) continue;
      if (fs::remove(e.path(), ec)) ++removed;
    }
  }
  return removed;
}

// On --resume, metrics.jsonl may hold records of steps after the checkpoint (the run went
// on after writing it and was then stopped) and, after a kill, a torn last line: both are
// dropped, since the continued run writes those steps again. Returns the records dropped.
int trim_metrics(const std::string& path, int64_t iteration) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0;
  const std::vector<uint8_t> bytes = read_file(path);
  const std::string text(bytes.begin(), bytes.end());
  std::string kept;
  int dropped = 0;
  for (size_t begin = 0; begin < text.size();) {
    const size_t nl = text.find('\n', begin);
    bool keep = false;
    if (nl != std::string::npos) {  // a line without its newline was cut short
      const nlohmann::json j = nlohmann::json::parse(text.begin() + begin, text.begin() + nl,
                                                     nullptr, false);
      keep = j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
             j["step"].get<int64_t>() <= iteration;
      if (keep) kept.append(text, begin, nl + 1 - begin);
    }
    if (!keep) ++dropped;
    begin = nl == std::string::npos ? text.size() : nl + 1;
  }
  if (dropped > 0) write_file_atomic(path, kept);
  return dropped;
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
    // How samples are drawn does not change the training: the flags may change on resume.
    if (opt.explicit_flags.count("--sample-bn")) config.sample_bn = opt.config.sample_bn;
    if (opt.explicit_flags.count("--sample-bn-batch"))
      config.sample_bn_batch = opt.config.sample_bn_batch;
    if (resumed.state.data_count != 0 && resumed.state.data_count != data.count)
      GAN_INPUT_FAIL(opt.resume << " was trained on " << resumed.state.data_count
                                << " images but " << opt.data << " holds " << data.count);
    check_resumed_state(resumed.state, config, data.count, opt.resume);
  }
  config.spec.image_h = data.rows;
  config.spec.image_w = data.cols;
  if (resuming && !(config.spec == resumed.config.spec))
    GAN_INPUT_FAIL(opt.resume << " is a model of " << resumed.config.spec.image_h << "x"
                              << resumed.config.spec.image_w << " images but " << opt.data
                              << " holds " << data.rows << "x" << data.cols);
  config.validate();
  const GenerateOptions sampling = resolve_generator_choice(
      GeneratorChoice{opt.sample_weights, "", 0}, config,
      resuming ? opt.resume : std::string("this run"));

  const std::filesystem::path out_dir(opt.out);
  const std::string ckpt_path = (out_dir / "checkpoint.safetensors").string();
  const std::string metrics_path = (out_dir / "metrics.jsonl").string();
  const std::string samples_dir = (out_dir / "samples").string();
  if (!resuming) {
    if (std::filesystem::exists(ckpt_path))
      GAN_INPUT_FAIL(opt.out << " already holds a run (" << ckpt_path << "); continue it with "
                             << "--resume " << ckpt_path << " or choose another --out");
    if (std::filesystem::exists(metrics_path))
      GAN_INPUT_FAIL(opt.out << " already holds a run that stopped before its first checkpoint ("
                             << metrics_path << "); remove it or choose another --out");
  }
  const auto backend = select_backend(opt.device, opt.tf32, out, opt.threads);
  TrainingEval eval_hook(opt, data);  // --eval-every; reads its inputs now, dies before backend
  for (const auto& [op, variant] : opt.kernels) backend->select_kernel(op, variant);
  ensure_writable_dir(opt.out);
  ensure_writable_dir(samples_dir);
  if (const int n = remove_unfinished_writes(opt.out, samples_dir))
    out << "removed " << n << " temporary file(s) left by writes that were cut short\n";
  if (resuming) {
    if (const int n = trim_metrics(metrics_path, resumed.state.counters.iteration))
      out << "dropped " << n << " record(s) of " << metrics_path << " past the checkpoint "
          << "(those steps run again)\n";
  }

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
  InterruptGuard interrupts;  // from here on a signal stops the run at a step boundary
  out << "training on " << backend->name() << ": " << data.count << " images, batch "
      << config.batch_size << ", " << per_epoch << " iterations/epoch, epochs "
      << start.epoch + 1 << ".." << opt.epochs << ", out " << opt.out << "\n";
  if (config.has_lr_decay())
    out << "learning rates fall linearly to 0 over epochs " << config.lr_decay_start + 1 << ".."
        << config.lr_decay_end << "\n";

  TrainLog log(metrics_path, out, ::isatty(STDOUT_FILENO) == 1, per_epoch, total,
               start.counters.iteration, config.batch_size * k);
  backend->mark_clock();  // the log's start on the clock that times its records
  int64_t skipped_seen[2] = {start.counters.skipped[0], start.counters.skipped[1]};
  bool pending = false;  // a read-back in flight (CUDA: collected at the next log point)
  int64_t iteration = start.counters.iteration;
  int64_t recorded = -1;  // the iteration of the last metrics record

  auto collect = [&] {
    trainer.wait_readback();
    pending = false;
    const StepMetrics m = trainer.readback_metrics();
    const StepCounters c = trainer.readback_counters();
    log.record(m, c, backend->download_seconds());
    // the steps since the previous record: a new skip happened in one of them
    const int64_t since = recorded >= 0 ? recorded : start.counters.iteration;
    recorded = c.iteration;
    for (int q = 0; q < 2; ++q) {
      if (c.skipped[q] == skipped_seen[q]) continue;
      const char* net = q == 0 ? "generator" : "discriminator";
      if (config.nan_policy == NanPolicy::Abort) {
        log.finish();
        // first_bad_iteration is the first failure ever: in a run resumed from one that
        // skipped updates (--nan-policy skip) it is older than this run's failure, which then
        // is known only to lie among the steps since the previous record.
        const int64_t first_bad = c.first_bad_iteration[q];
        const int64_t lo = first_bad >= since ? first_bad + 1 : since + 1, hi = c.iteration;
        std::ostringstream os;
        os << "non-finite " << net << " loss or gradient at step "
           << (first_bad >= since || lo == hi ? std::to_string(lo)
                                              : std::to_string(lo) + ".." + std::to_string(hi))
           << " (epoch " << (lo - 1) / per_epoch + 1 << "); training stopped, "
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
  auto readback_now = [&] {  // records the current iteration (once) and checks it
    if (pending) collect();
    if (recorded == iteration) return;
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
          trainer.generate(kGridSide * kGridSide, Stream::FixedNoise, 0, sampling);
      write_png_grid(epoch_png(samples_dir, epoch + 1), grid.data(), kGridSide * kGridSide,
                     config.spec.image_h, config.spec.image_w, kGridSide);
      write_progress_gif(samples_dir, (out_dir / "samples" / "progress.gif").string());
    }
    if ((epoch + 1) % opt.checkpoint_every == 0 || last) save(epoch, true);
    if (eval_hook.due(epoch + 1, last))
      eval_hook.run(trainer, sampling, epoch + 1, iteration, per_epoch, metrics_path, log);
  }
  log.finish();
  if (InterruptGuard::requested()) {  // during the last epoch's samples or checkpoint
    const int sig = InterruptGuard::signal_number();
    out << "interrupted (signal " << sig << ") while finishing: all " << opt.epochs
        << " epochs are done and checkpoint " << ckpt_path << " is complete\n";
    return 128 + sig;
  }
  out << "done: " << opt.epochs << " epochs, " << iteration << " steps; checkpoint "
      << ckpt_path << ", samples in " << samples_dir << ", metrics in " << metrics_path << "\n";
  return 0;
}

}  // namespace gan
