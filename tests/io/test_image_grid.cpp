/*
 * test_image_grid.cpp — the PNG sample grid, checked by decoding it: a minimal PNG decoder
 * (signature, chunk CRCs, IHDR, IDAT inflated with zlib, filter types 0-4 undone) reads the
 * grid back, and every pixel is compared with the layout the header comment promises.
 */
#include <doctest/doctest.h>
#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/io/atomic_file.hpp"
#include "engine/base/error.hpp"
#include "engine/io/image_grid.hpp"

namespace {

using Bytes = std::vector<uint8_t>;

struct Gray {
  int width = 0, height = 0;
  Bytes pixels;  // row-major
  int filters_seen = 0;  // bit f set when a row used filter type f
  int at(int y, int x) const { return pixels[size_t(y) * width + x]; }
};

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

int paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

// Decodes an 8-bit grayscale, non-interlaced PNG; fails the test on anything else.
Gray decode_gray_png(const Bytes& png) {
  static const uint8_t kSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  REQUIRE(png.size() >= 8);
  REQUIRE(std::equal(kSig, kSig + 8, png.begin()));
  Gray g;
  Bytes idat;
  bool ended = false;
  size_t pos = 8;
  while (!ended) {
    REQUIRE(pos + 12 <= png.size());
    const uint32_t len = be32(&png[pos]);
    REQUIRE(pos + 12 + len <= png.size());
    const std::string type(reinterpret_cast<const char*>(&png[pos + 4]), 4);
    const uint8_t* data = &png[pos + 8];
    const uint32_t crc = uint32_t(crc32(0L, &png[pos + 4], 4 + len));
    CHECK(crc == be32(data + len));
    if (type == "IHDR") {
      REQUIRE(len == 13);
      g.width = int(be32(data));
      g.height = int(be32(data + 4));
      REQUIRE(data[8] == 8);   // bit depth
      REQUIRE(data[9] == 0);   // colour type: grayscale
      REQUIRE(data[10] == 0);  // compression
      REQUIRE(data[11] == 0);  // filter method
      REQUIRE(data[12] == 0);  // no interlace
    } else if (type == "IDAT") {
      idat.insert(idat.end(), data, data + len);
    } else if (type == "IEND") {
      ended = true;
    }
    pos += 12 + len;
  }
  CHECK(pos == png.size());
  REQUIRE(g.width > 0);
  REQUIRE(g.height > 0);
  const size_t stride = size_t(g.width) + 1;  // filter byte + one byte per pixel
  Bytes raw(stride * g.height);
  uLongf raw_len = uLongf(raw.size());
  REQUIRE(uncompress(raw.data(), &raw_len, idat.data(), uLong(idat.size())) == Z_OK);
  REQUIRE(raw_len == raw.size());
  g.pixels.assign(size_t(g.width) * g.height, 0);
  for (int y = 0; y < g.height; ++y) {
    const uint8_t filter = raw[y * stride];
    REQUIRE(filter <= 4);
    g.filters_seen |= 1 << filter;
    const uint8_t* in = &raw[y * stride + 1];
    uint8_t* out = &g.pixels[size_t(y) * g.width];
    const uint8_t* up = y > 0 ? out - g.width : nullptr;
    for (int x = 0; x < g.width; ++x) {
      const int a = x > 0 ? out[x - 1] : 0;
      const int b = up ? up[x] : 0;
      const int c = (up && x > 0) ? up[x - 1] : 0;
      int pred = 0;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) / 2; break;
        case 4: pred = paeth(a, b, c); break;
      }
      out[x] = uint8_t(in[x] + pred);
    }
  }
  return g;
}

// Checks every pixel of a decoded grid: image i's pixel (y, x) equals expect(i, y, x) in its
// cell, everything else (border, gaps, unused cells) is black.
template <class F>
void check_grid(const Gray& g, int n, int h, int w, int cols, F expect) {
  const int rows = (n + cols - 1) / cols;
  REQUIRE(g.width == cols * (w + 2) + 2);
  REQUIRE(g.height == rows * (h + 2) + 2);
  int mismatches = 0;
  for (int py = 0; py < g.height; ++py) {
    for (int px = 0; px < g.width; ++px) {
      int want = 0;
      const int cy = (py - 2) / (h + 2), oy = (py - 2) % (h + 2);
      const int cx = (px - 2) / (w + 2), ox = (px - 2) % (w + 2);
      if (py >= 2 && px >= 2 && oy < h && ox < w) {
        const int i = cy * cols + cx;
        if (i < n) want = expect(i, oy, ox);
      }
      if (g.at(py, px) != want && ++mismatches <= 5) {
        CAPTURE(py);
        CAPTURE(px);
        CHECK(g.at(py, px) == want);
      }
    }
  }
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("image grid: size, cell placement and black gaps of a known pattern") {
  const int n = 5, h = 3, w = 4, cols = 2;  // 3 grid rows, the last one half empty
  auto level = [](int i, int y, int x) { return 1 + i * 50 + y * 4 + x; };  // distinct, > 0
  std::vector<float> images(size_t(n) * h * w);
  for (int i = 0; i < n; ++i)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) images[(size_t(i) * h + y) * w + x] = level(i, y, x) / 255.0f;
  const Gray g = decode_gray_png(gan::encode_png_grid(images.data(), n, h, w, cols));
  CHECK(g.width == 14);
  CHECK(g.height == 17);
  check_grid(g, n, h, w, cols, level);
  // Spot checks straight from the layout: image 3 is grid row 1, column 1.
  CHECK(g.at(2 + 5, 2 + 6) == level(3, 0, 0));
  CHECK(g.at(2 + 5 + 2, 2 + 6 + 3) == level(3, 2, 3));
  CHECK(g.at(2 + 10, 2) == level(4, 0, 0));
  CHECK(g.at(2 + 10, 2 + 6) == 0);  // the unused sixth cell
}

TEST_CASE("image grid: more columns than images is reduced to one row of n") {
  std::vector<float> images(3 * 2 * 2, 1.0f);
  const Gray g = decode_gray_png(gan::encode_png_grid(images.data(), 3, 2, 2, 8));
  CHECK(g.width == 3 * 4 + 2);
  CHECK(g.height == 6);
  check_grid(g, 3, 2, 2, 3, [](int, int, int) { return 255; });
}

TEST_CASE("image grid: random MNIST-sized images survive every PNG filter type") {
  const int n = 37, h = 28, w = 28, cols = 8;
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<int> levels(size_t(n) * h * w);
  std::vector<float> images(levels.size());
  for (size_t k = 0; k < levels.size(); ++k) {
    // Smooth regions and noise, so the encoder's per-row filter choice varies.
    levels[k] = (k / 200) % 3 == 0 ? int((k % 28) * 9) : byte(rng);
    images[k] = levels[k] / 255.0f;
  }
  const Gray g = decode_gray_png(gan::encode_png_grid(images.data(), n, h, w, cols));
  check_grid(g, n, h, w, cols, [&](int i, int y, int x) {
    return levels[(size_t(i) * h + y) * w + x];
  });
  CHECK(g.filters_seen != 0);
}

TEST_CASE("image grid: values are clamped to 0..1, rounded, and NaN is black") {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {-1.0f, 0.0f, 0.5f, 1.0f, 2.0f, nan, inf, -inf,
                                0.3f,  1.0f / 255, 0.499f / 255, 254.6f / 255};
  const std::vector<int> want = {0, 0, 128, 255, 255, 0, 255, 0, 77, 1, 0, 255};
  const std::vector<uint8_t> u8 = gan::to_u8_pixels(x.data(), x.size());
  REQUIRE(u8.size() == want.size());
  for (size_t k = 0; k < x.size(); ++k) {
    CAPTURE(k);
    CHECK(int(u8[k]) == want[k]);
  }
  const Gray g = decode_gray_png(gan::encode_png_grid(x.data(), 1, 3, 4, 1));
  check_grid(g, 1, 3, 4, 1, [&](int, int y, int xx) { return want[size_t(y) * 4 + xx]; });
  CHECK(gan::to_u8_pixels(x.data(), 0).empty());
}

TEST_CASE("image grid: write_png_grid writes the encoded bytes, and names an unwritable path") {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "gan_grid_test.XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const std::string path = tmpl + "/grid.png";
  const std::vector<float> images(4 * 5 * 5, 0.25f);
  gan::write_png_grid(path, images.data(), 4, 5, 5, 2);
  CHECK(gan::read_file(path) == gan::encode_png_grid(images.data(), 4, 5, 5, 2));

  const std::string bad = tmpl + "/no-such-dir/grid.png";
  CHECK_THROWS_WITH_AS(gan::write_png_grid(bad, images.data(), 4, 5, 5, 2),
                       doctest::Contains(bad.c_str()), gan::Error);
  CHECK(!std::filesystem::exists(tmpl + "/no-such-dir"));
  std::filesystem::remove_all(tmpl);

  CHECK_THROWS_AS(gan::encode_png_grid(images.data(), 0, 5, 5, 2), gan::Error);
  CHECK_THROWS_AS(gan::encode_png_grid(images.data(), 4, 5, 5, 0), gan::Error);
}
