/*
 * interrupt.hpp — SIGINT/SIGTERM handling for training.
 *
 * The first signal only sets a flag, which the training loop polls after each iteration:
 * it then finishes that step, writes a checkpoint, says where it is and exits with
 * 128 + the signal number (130 for SIGINT, 143 for SIGTERM). A second signal ends the
 * process at once (_exit) with the same status. Checkpoints are replaced atomically
 * (engine/io/atomic_file.hpp), so the last complete one stays intact either way; what a
 * write cut short leaves is a temporary file beside it, which the next run removes.
 *
 * Handlers are installed with SA_RESTART, so a system call that the first signal
 * interrupts (a write to a slow pipe, say) is resumed rather than failing with EINTR.
 */
#pragma once

namespace gan {

class InterruptGuard {
 public:
  InterruptGuard();   // clears the flag and installs the handlers
  ~InterruptGuard();  // restores the previous handlers
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  static bool requested();
  static int signal_number();  // the first signal received, 0 if none
};

}  // namespace gan
