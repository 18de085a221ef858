/*
 * interrupt.hpp — SIGINT/SIGTERM handling for training.
 *
 * The first signal sets a flag the training loop polls after each iteration (it then
 * writes a checkpoint and exits with 128 + signal number: 130 for SIGINT, 143 for
 * SIGTERM). A second signal ends the process at once with the same status; checkpoints
 * are written atomically, so the last one stays intact either way.
 */
#pragma once

namespace gan {

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handlers
  ~InterruptGuard();  // restores the previous ones
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  static bool requested();
  static int signal_number();  // 0 if none
};

}  // namespace gan
