/*
 * sample_command.cpp — `gan_cuda sample`: N generator samples from a checkpoint, as a PNG
 * grid or a uint8 IDX file [N, rows, cols]. Weights and BatchNorm mode: --weights,
 * --sample-bn, --sample-bn-batch, by default the checkpoint's (apps/generator_choice.hpp).
 */
#include <cmath>

#include "apps/app.hpp"
#include "apps/generator_choice.hpp"
#include "engine/checkpoint.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "engine/io/image_grid.hpp"
#include "engine/trainer.hpp"

namespace gan {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

int run_sample(const SampleOptions& opt, std::ostream& out) {
  const bool png = ends_with(opt.out, ".png");
  if (!png && !ends_with(opt.out, ".idx") && !ends_with(opt.out, ".idx.gz"))
    GAN_INPUT_FAIL("--out " << opt.out << ": the name must end in .png, .idx or .idx.gz");
  const Checkpoint ck = load_checkpoint(opt.checkpoint);
  const GenerateOptions how = resolve_generator_choice(opt.generator, ck.config, opt.checkpoint);
  const auto backend = select_backend(opt.device, false, out, opt.threads);
  Trainer trainer(*backend, ck.config, false);
  trainer.set_state(ck.state);
  const std::vector<float> images = trainer.generate(opt.n, Stream::Sample, opt.seed, how);
  const ModelSpec& s = ck.config.spec;
  if (png) {
    const int cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(opt.n))));
    write_png_grid(opt.out, images.data(), opt.n, s.image_h, s.image_w, cols);
  } else {
    const std::vector<uint8_t> pixels = to_u8_pixels(images.data(), images.size());
    write_idx(opt.out,
              {static_cast<uint32_t>(opt.n), static_cast<uint32_t>(s.image_h),
               static_cast<uint32_t>(s.image_w)},
              pixels.data());
  }
  out << "wrote " << opt.n << " samples to " << opt.out << " (" << describe(how) << ")\n";
  return 0;
}

}  // namespace gan
