/*
 * gif_writer.cpp — giflib's encoder writing into a memory buffer.
 */
#include "engine/io/gif_writer.hpp"

#include <gif_lib.h>

#include <cstring>

#include "engine/io/atomic_file.hpp"
#include "engine/base/error.hpp"

namespace gan {

namespace {

int append_bytes(GifFileType* gif, const GifByteType* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(gif->UserData);
  out->insert(out->end(), data, data + size);
  return size;
}

// Closes the encoder on every path; close() reports giflib's final error.
class Encoder {
 public:
  explicit Encoder(std::vector<uint8_t>* out) {
    int err = 0;
    gif_ = EGifOpen(out, append_bytes, &err);
    if (!gif_) GAN_FAIL("GIF encoder: " << GifErrorString(err));
  }
  ~Encoder() {
    if (gif_) EGifCloseFile(gif_, nullptr);
  }
  GifFileType* get() { return gif_; }
  void check(int status, const char* what) {
    if (status != GIF_OK) GAN_FAIL("GIF encoder: " << what << ": " << GifErrorString(gif_->Error));
  }
  void close() {
    int err = 0;
    GifFileType* g = gif_;
    gif_ = nullptr;
    if (EGifCloseFile(g, &err) != GIF_OK) GAN_FAIL("GIF encoder: close: " << GifErrorString(err));
  }

 private:
  GifFileType* gif_ = nullptr;
};

}  // namespace

std::vector<uint8_t> encode_gif(const std::vector<GifFrame>& frames, int w, int h) {
  GAN_CHECK(!frames.empty(), "a GIF needs at least one frame");
  GAN_CHECK(w >= 1 && h >= 1 && w <= 65535 && h <= 65535, "GIF size " << w << "x" << h);
  const size_t count = static_cast<size_t>(w) * h;
  for (const GifFrame& f : frames)
    GAN_CHECK(f.pixels.size() == count, "GIF frame of " << f.pixels.size() << " pixels, not "
                                                        << w << "x" << h);
  std::vector<uint8_t> out;
  Encoder enc(&out);
  GifFileType* gif = enc.get();
  EGifSetGifVersion(gif, true);
  GifColorType grays[256];
  for (int i = 0; i < 256; ++i)
    grays[i].Red = grays[i].Green = grays[i].Blue = static_cast<GifByteType>(i);
  ColorMapObject* map = GifMakeMapObject(256, grays);
  if (!map) GAN_FAIL("GIF encoder: out of memory for the palette");
  const int screen = EGifPutScreenDesc(gif, w, h, 8, 0, map);
  GifFreeMapObject(map);  // EGifPutScreenDesc keeps its own copy
  enc.check(screen, "screen descriptor");

  // NETSCAPE2.0: loop forever (sub-block 1, loop count 0).
  enc.check(EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE), "loop extension");
  const GifByteType app[] = {'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0'};
  enc.check(EGifPutExtensionBlock(gif, sizeof app, app), "loop extension");
  const GifByteType loop[] = {1, 0, 0};
  enc.check(EGifPutExtensionBlock(gif, sizeof loop, loop), "loop extension");
  enc.check(EGifPutExtensionTrailer(gif), "loop extension");

  std::vector<GifPixelType> line(static_cast<size_t>(w));
  for (const GifFrame& f : frames) {
    GraphicsControlBlock gcb;
    gcb.DisposalMode = DISPOSE_DO_NOT;
    gcb.UserInputFlag = false;
    gcb.DelayTime = f.delay_cs;
    gcb.TransparentColor = NO_TRANSPARENT_COLOR;
    GifByteType ext[4];
    const size_t len = EGifGCBToExtension(&gcb, ext);
    enc.check(EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(len), ext),
              "frame delay");
    enc.check(EGifPutImageDesc(gif, 0, 0, w, h, false, nullptr), "image descriptor");
    for (int y = 0; y < h; ++y) {
      std::memcpy(line.data(), f.pixels.data() + static_cast<size_t>(y) * w, line.size());
      enc.check(EGifPutLine(gif, line.data(), w), "pixels");
    }
  }
  enc.close();
  return out;
}

void write_gif(const std::string& path, const std::vector<GifFrame>& frames, int w, int h) {
  const std::vector<uint8_t> bytes = encode_gif(frames, w, h);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace gan
