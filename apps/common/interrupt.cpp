#include "apps/common/interrupt.hpp"

#include <csignal>

namespace appkit {

namespace {
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_interrupt(int sig) { g_signal = sig; }
}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking poll(2) returns EINTR at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int interrupted() { return g_signal; }

int interrupt_exit_code() { return g_signal ? 128 + g_signal : 0; }

const char* interrupt_description() {
  return g_signal == SIGTERM ? "terminated (SIGTERM)" : "interrupted (SIGINT)";
}

}  // namespace appkit
