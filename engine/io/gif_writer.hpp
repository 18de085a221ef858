/*
 * gif_writer.hpp — animated grayscale GIF89a files, encoded with giflib.
 *
 * Every frame is a full w x h image of 8-bit gray pixels (row-major). The global palette
 * holds the 256 grays, palette index = gray level, so pixels are stored exactly. Each frame
 * carries a Graphics Control Block with its delay in centiseconds (no transparency, disposal
 * "leave in place"); a NETSCAPE2.0 application extension makes viewers loop forever.
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gan {

struct GifFrame {
  std::vector<uint8_t> pixels;  // w * h gray levels
  int delay_cs = 10;            // display time, 1/100 s
};

// gan::Error when there are no frames, a frame has the wrong size, or giflib fails.
std::vector<uint8_t> encode_gif(const std::vector<GifFrame>& frames, int w, int h);

// encode_gif written atomically to `path`.
void write_gif(const std::string& path, const std::vector<GifFrame>& frames, int w, int h);

}  // namespace gan
