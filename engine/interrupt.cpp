/*
 * interrupt.cpp — async-signal-safe flag and second-signal immediate exit.
 */
#include "engine/interrupt.hpp"

#include <signal.h>
#include <unistd.h>

namespace gan {

namespace {

volatile sig_atomic_t g_signal = 0;
struct sigaction g_old_int, g_old_term;

extern "C" void on_signal(int sig) {
  if (g_signal != 0) {
    static const char msg[] =
        "\ngan_cuda: second interrupt: stopping now; the last complete checkpoint is kept\n";
    (void)!::write(STDERR_FILENO, msg, sizeof(msg) - 1);
    ::_exit(128 + sig);
  }
  g_signal = sig;
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);  // one handler at a time: a SIGTERM arriving while the
  sigaddset(&sa.sa_mask, SIGTERM);  // SIGINT handler runs is the second signal, not the first
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

bool InterruptGuard::requested() { return g_signal != 0; }
int InterruptGuard::signal_number() { return static_cast<int>(g_signal); }

}  // namespace gan
