/*
 * progress_gif.cpp — epoch grids (decoded with stb_image) to GIF frames with a progress bar.
 */
#include "engine/io/progress_gif.hpp"

#include <stb_image.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>

#include "engine/io/atomic_file.hpp"
#include "engine/base/error.hpp"
#include "engine/io/gif_writer.hpp"

namespace gan {

namespace {

constexpr int kStrip = 6;  // pixels below the grid: 2 black, 4 for the bar

struct Gray {
  int w = 0, h = 0;
  std::vector<uint8_t> pixels;
};

Gray decode_png(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  int w = 0, h = 0, channels = 0;
  stbi_uc* p = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h,
                                     &channels, 1);
  if (!p) GAN_FAIL("cannot decode " << path << ": " << stbi_failure_reason());
  Gray g;
  g.w = w;
  g.h = h;
  g.pixels.assign(p, p + static_cast<size_t>(w) * h);
  stbi_image_free(p);
  return g;
}

}  // namespace

int write_progress_gif(const std::string& samples_dir, const std::string& gif_path) {
  namespace fs = std::filesystem;
  std::map<long long, std::string> grids;  // epoch -> path
  const std::regex name(R"(epoch_(\d+)\.png)");
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(samples_dir, ec)) {
    std::smatch m;
    const std::string file = e.path().filename().string();
    if (e.is_regular_file() && std::regex_match(file, m, name) && m[1].length() <= 9)
      grids[std::stoll(m[1])] = e.path().string();
  }
  if (ec) GAN_FAIL("cannot list " << samples_dir << ": " << ec.message());
  if (grids.empty()) return 0;

  std::vector<std::pair<long long, std::string>> all(grids.begin(), grids.end());
  std::vector<std::pair<long long, std::string>> chosen;
  if (all.size() <= static_cast<size_t>(kMaxProgressFrames)) {
    chosen = all;
  } else {
    const size_t n = all.size(), k = kMaxProgressFrames;
    for (size_t i = 0; i < k; ++i) chosen.push_back(all[i * (n - 1) / (k - 1)]);
  }
  const long long last_epoch = chosen.back().first;
  const Gray last = decode_png(chosen.back().second);
  const int w = last.w, h = last.h + kStrip;
  std::vector<GifFrame> frames;
  for (size_t i = 0; i < chosen.size(); ++i) {
    const Gray g = i + 1 == chosen.size() ? last : decode_png(chosen[i].second);
    if (g.w != last.w || g.h != last.h) continue;
    GifFrame f;
    f.pixels.assign(static_cast<size_t>(w) * h, 0);
    std::copy(g.pixels.begin(), g.pixels.end(), f.pixels.begin());
    const int span = std::max(1, w - 4);
    const int filled =
        last_epoch > 0 ? static_cast<int>(span * std::clamp(double(chosen[i].first) / last_epoch, 0.0, 1.0)) : span;
    for (int y = last.h + 2; y < h; ++y)
      for (int x = 2; x < 2 + span && x < w; ++x)
        f.pixels[static_cast<size_t>(y) * w + x] = x - 2 < filled ? 255 : 64;
    f.delay_cs = i + 1 == chosen.size() ? 200 : 15;
    frames.push_back(std::move(f));
  }
  write_gif(gif_path, frames, w, h);
  return static_cast<int>(frames.size());
}

}  // namespace gan
