/*
 * progress_gif.hpp — the animation of training progress: the per-epoch sample grids
 * (<dir>/epoch_NNN.png, engine/io/image_grid.hpp) assembled into one looping GIF.
 *
 * Frames follow the epoch numbers. With more than kMaxProgressFrames grids, an evenly spaced
 * subset is used that keeps the first and the last. Below each grid is a 6-pixel strip with
 * a bar whose length is epoch / last epoch, so a viewer sees where in training a frame is.
 * A frame shows for 0.15 s, the last one for 2 s. Grids of another size than the last grid
 * are left out. The GIF is rebuilt from the PNGs on disk each time, so a resumed run
 * continues the same animation.
 */
#pragma once

#include <string>

namespace gan {

constexpr int kMaxProgressFrames = 100;

// Writes gif_path (atomically) from the epoch_NNN.png files in samples_dir; returns the
// number of frames (0: no grid yet, nothing written). gan::Error naming a PNG that cannot
// be decoded.
int write_progress_gif(const std::string& samples_dir, const std::string& gif_path);

}  // namespace gan
