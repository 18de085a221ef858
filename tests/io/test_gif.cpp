/*
 * test_gif.cpp — the animated GIF writer, checked by decoding its output with giflib
 * (DGifOpen on memory): frame count, size, exact gray pixels through the palette, delays,
 * the looping extension, refusals; and the training-progress GIF built from epoch grids
 * (frame order, progress bar, the frame cap keeping first and last, nothing without grids).
 */
#include <doctest/doctest.h>

#include <gif_lib.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/io/atomic_file.hpp"
#include "engine/base/error.hpp"
#include "engine/io/gif_writer.hpp"
#include "engine/io/image_grid.hpp"
#include "engine/io/progress_gif.hpp"
#include "tests/support/process_runner.hpp"

namespace {

using namespace gan;
using namespace gan::test;

struct Decoded {
  int w = 0, h = 0;
  std::vector<std::vector<uint8_t>> frames;  // gray levels via the palette
  std::vector<int> delays;
  bool loops = false;
};

struct Reader {
  const std::vector<uint8_t>* bytes;
  size_t pos = 0;
};

int read_bytes(GifFileType* gif, GifByteType* out, int n) {
  auto* r = static_cast<Reader*>(gif->UserData);
  const size_t take = std::min(static_cast<size_t>(n), r->bytes->size() - r->pos);
  std::memcpy(out, r->bytes->data() + r->pos, take);
  r->pos += take;
  return static_cast<int>(take);
}

Decoded decode(const std::vector<uint8_t>& bytes) {
  REQUIRE(bytes.size() > 6);
  CHECK(std::string(bytes.begin(), bytes.begin() + 6) == "GIF89a");
  Reader reader{&bytes};
  int err = 0;
  GifFileType* gif = DGifOpen(&reader, read_bytes, &err);
  REQUIRE(gif != nullptr);
  REQUIRE(DGifSlurp(gif) == GIF_OK);
  Decoded d;
  d.w = gif->SWidth;
  d.h = gif->SHeight;
  for (int i = 0; i < gif->ImageCount; ++i) {
    const SavedImage& im = gif->SavedImages[i];
    const ColorMapObject* map = im.ImageDesc.ColorMap ? im.ImageDesc.ColorMap : gif->SColorMap;
    REQUIRE(map != nullptr);
    CHECK(im.ImageDesc.Width == d.w);
    CHECK(im.ImageDesc.Height == d.h);
    std::vector<uint8_t> px(static_cast<size_t>(d.w) * d.h);
    for (size_t p = 0; p < px.size(); ++p) {
      const GifColorType c = map->Colors[im.RasterBits[p]];
      CHECK(c.Red == c.Green);
      CHECK(c.Green == c.Blue);
      px[p] = c.Red;
    }
    d.frames.push_back(px);
    GraphicsControlBlock gcb;
    REQUIRE(DGifSavedExtensionToGCB(gif, i, &gcb) == GIF_OK);
    d.delays.push_back(gcb.DelayTime);
  }
  // giflib attaches extensions to the image they precede, trailing ones to the file.
  auto find_loop = [&](const ExtensionBlock* blocks, int count) {
    for (int i = 0; i + 1 < count; ++i) {
      const ExtensionBlock& b = blocks[i];
      if (b.Function == APPLICATION_EXT_FUNC_CODE && b.ByteCount == 11 &&
          std::memcmp(b.Bytes, "NETSCAPE2.0", 11) == 0) {
        const ExtensionBlock& sub = blocks[i + 1];
        d.loops = sub.ByteCount == 3 && sub.Bytes[0] == 1 && sub.Bytes[1] == 0 &&
                  sub.Bytes[2] == 0;
      }
    }
  };
  find_loop(gif->ExtensionBlocks, gif->ExtensionBlockCount);
  if (gif->ImageCount > 0)
    find_loop(gif->SavedImages[0].ExtensionBlocks, gif->SavedImages[0].ExtensionBlockCount);
  DGifCloseFile(gif, &err);
  return d;
}

TEST_CASE("encode_gif: frames decode to the same gray pixels, delays and looping") {
  const int w = 5, h = 3;
  std::vector<GifFrame> frames(3);
  for (int f = 0; f < 3; ++f) {
    frames[f].pixels.resize(w * h);
    for (int i = 0; i < w * h; ++i) frames[f].pixels[i] = static_cast<uint8_t>((i * 17 + f * 90) % 256);
    frames[f].delay_cs = 10 * (f + 1);
  }
  frames[1].pixels[0] = 0;
  frames[1].pixels[1] = 255;
  const Decoded d = decode(encode_gif(frames, w, h));
  CHECK(d.w == w);
  CHECK(d.h == h);
  REQUIRE(d.frames.size() == 3);
  for (int f = 0; f < 3; ++f) {
    CHECK(d.frames[f] == frames[f].pixels);
    CHECK(d.delays[f] == 10 * (f + 1));
  }
  CHECK(d.loops);
}

TEST_CASE("encode_gif refuses no frames and frames of the wrong size") {
  CHECK_THROWS_AS(encode_gif({}, 2, 2), Error);
  std::vector<GifFrame> frames(1);
  frames[0].pixels.assign(3, 0);
  CHECK_THROWS_AS(encode_gif(frames, 2, 2), Error);
  CHECK_THROWS_AS(encode_gif(frames, 0, 3), Error);
}

// A 2 x 2 grid of 4 x 4 images, all of one gray level.
void write_grid(const std::string& path, float level) {
  const std::vector<float> images(4 * 16, level);
  write_png_grid(path, images.data(), 4, 4, 4, 2);
}

TEST_CASE("progress GIF: epoch grids in order with a growing bar") {
  TempDir tmp("gif");
  CHECK(write_progress_gif(tmp.path(), tmp / "progress.gif") == 0);
  CHECK_FALSE(std::filesystem::exists(tmp / "progress.gif"));
  write_grid(tmp / "epoch_002.png", 0.5f);
  write_grid(tmp / "epoch_001.png", 0.2f);
  write_grid(tmp / "epoch_004.png", 1.0f);
  write_file_atomic(tmp / "notes.png", std::string("not a grid"));  // ignored: not epoch_N
  CHECK(write_progress_gif(tmp.path(), tmp / "progress.gif") == 3);
  const Decoded d = decode(read_file(tmp / "progress.gif"));
  const int gw = 2 * (4 + 2) + 2, gh = gw;  // engine/io/image_grid.hpp layout
  CHECK(d.w == gw);
  CHECK(d.h == gh + 6);
  REQUIRE(d.frames.size() == 3);
  const uint8_t levels[] = {51, 128, 255};  // epochs 1, 2, 4
  int last_filled = -1;
  for (int f = 0; f < 3; ++f) {
    CHECK(d.frames[f][2 * gw + 2] == levels[f]);  // top-left pixel of the first cell
    int filled = 0;
    for (int x = 0; x < gw; ++x) filled += d.frames[f][(gh + 3) * gw + x] == 255;
    CHECK(filled > last_filled);
    last_filled = filled;
  }
  CHECK(last_filled == gw - 4);  // the last epoch fills the bar
  CHECK(d.delays.back() > d.delays.front());
  CHECK(d.loops);

  write_file_atomic(tmp / "epoch_005.png", std::string("broken"));
  CHECK_THROWS_WITH_AS(write_progress_gif(tmp.path(), tmp / "progress.gif"),
                       doctest::Contains("epoch_005.png"), Error);
}

TEST_CASE("progress GIF keeps at most 100 frames, the first and the last among them") {
  TempDir tmp("gifcap");
  for (int e = 1; e <= 130; ++e) {
    char name[32];
    std::snprintf(name, sizeof name, "epoch_%03d.png", e);
    write_grid(tmp / name, e == 1 ? 0.0f : (e == 130 ? 1.0f : 0.5f));
  }
  CHECK(write_progress_gif(tmp.path(), tmp / "p.gif") == kMaxProgressFrames);
  const Decoded d = decode(read_file(tmp / "p.gif"));
  REQUIRE(d.frames.size() == static_cast<size_t>(kMaxProgressFrames));
  const int gw = 14;
  CHECK(d.frames.front()[2 * gw + 2] == 0);
  CHECK(d.frames.back()[2 * gw + 2] == 255);
  CHECK(d.frames[50][2 * gw + 2] == 128);
}

}  // namespace
