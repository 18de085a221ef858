/*
 * image_grid.cpp — grid layout in an 8-bit buffer, then PNG encoding through stb_image_write.
 */
#include "engine/io/image_grid.hpp"

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>

#include "engine/io/atomic_file.hpp"
#include "engine/base/error.hpp"

namespace gan {

namespace {

constexpr int kGap = 2;  // black pixels around and between cells

uint8_t to_u8(float x) {
  if (!(x > 0.0f)) return 0;  // also NaN
  if (x >= 1.0f) return 255;
  return static_cast<uint8_t>(std::lround(x * 255.0f));
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

}  // namespace

std::vector<uint8_t> to_u8_pixels(const float* x, size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = to_u8(x[i]);
  return out;
}

std::vector<uint8_t> encode_png_grid(const float* images, int n, int h, int w, int cols) {
  GAN_CHECK(n >= 1 && h >= 1 && w >= 1 && cols >= 1,
            "image grid of " << n << " images of " << h << "x" << w << " in " << cols
                             << " columns");
  GAN_CHECK(images != nullptr, "no images for the grid");
  cols = std::min(cols, n);
  const int rows = (n + cols - 1) / cols;
  const int64_t width = int64_t(cols) * (w + kGap) + kGap;
  const int64_t height = int64_t(rows) * (h + kGap) + kGap;
  GAN_CHECK(width <= (1 << 20) && height <= (1 << 20) && width * height <= (int64_t(1) << 30),
            "image grid of " << width << "x" << height << " pixels is too large for a PNG");
  std::vector<uint8_t> pixels(static_cast<size_t>(width * height), 0);
  for (int i = 0; i < n; ++i) {
    const float* img = images + size_t(i) * size_t(h) * size_t(w);
    const int64_t top = kGap + int64_t(i / cols) * (h + kGap);
    const int64_t left = kGap + int64_t(i % cols) * (w + kGap);
    for (int y = 0; y < h; ++y) {
      uint8_t* dst = &pixels[static_cast<size_t>((top + y) * width + left)];
      for (int x = 0; x < w; ++x) dst[x] = to_u8(img[size_t(y) * size_t(w) + size_t(x)]);
    }
  }
  std::vector<uint8_t> png;
  const int ok = stbi_write_png_to_func(append_bytes, &png, static_cast<int>(width),
                                        static_cast<int>(height), 1, pixels.data(),
                                        static_cast<int>(width));
  if (ok == 0 || png.empty())
    GAN_FAIL("PNG encoding of a " << width << "x" << height << " image grid failed");
  return png;
}

void write_png_grid(const std::string& path, const float* images, int n, int h, int w,
                    int cols) {
  const std::vector<uint8_t> png = encode_png_grid(images, n, h, w, cols);
  write_file_atomic(path, png.data(), png.size());
}

}  // namespace gan
