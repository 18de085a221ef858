/*
 * lr_schedule.h — the learning-rate decay of --lr-decay-epochs, one definition for the CPU
 * backend and the CUDA Adam kernel.
 *
 * Adam's rate at G iteration i (StepCounters::iteration when the update runs, so every D
 * step of an iteration shares it) is lr * lr_scale(start, end, i):
 *   1                          for i < start (and always when end <= start: no decay);
 *   (end - i) / (end - start)  for start <= i < end: a straight line from 1 at `start` to
 *                              1 / (end - start) at the last iteration before `end`;
 *   0                          from `end` on.
 * Evaluated in double from integers, so both backends get the same bits; the scale of a
 * run without decay is exactly 1 and multiplies nothing away.
 */
#pragma once

#include <cstdint>

#include "engine/host_device.h"

namespace gan {

GAN_HD double lr_scale(int64_t start, int64_t end, int64_t iteration) {
  if (end <= start || iteration < start) return 1.0;
  if (iteration >= end) return 0.0;
  return static_cast<double>(end - iteration) / static_cast<double>(end - start);
}

}  // namespace gan
