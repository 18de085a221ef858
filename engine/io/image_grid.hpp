/*
 * image_grid.hpp — a grid of grayscale images as an 8-bit PNG, and float-to-byte pixels.
 *
 * encode_png_grid lays out n images of h x w floats (row-major, image after image) in a grid
 * of `cols` columns and ceil(n / cols) rows (cols larger than n is reduced to n), with a
 * 2-pixel black border around and between cells: the PNG is
 * (cols * (w + 2) + 2) x (rows * (h + 2) + 2) pixels, image i sits at grid row i / cols,
 * column i % cols, its top-left pixel at (2 + row * (h + 2), 2 + column * (w + 2)), and
 * unused cells of the last row stay black. Pixels are round(clamp(x, 0, 1) * 255), NaN -> 0.
 * The PNG is encoded with stb_image_write (one 8-bit gray channel).
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gan {

// round(clamp(x, 0, 1) * 255) for each of the n values; NaN becomes 0.
std::vector<uint8_t> to_u8_pixels(const float* x, size_t n);

std::vector<uint8_t> encode_png_grid(const float* images, int n, int h, int w, int cols);

// encode_png_grid written atomically to `path`; Error naming the path if it cannot be written.
void write_png_grid(const std::string& path, const float* images, int n, int h, int w, int cols);

}  // namespace gan
