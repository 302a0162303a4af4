// Interrupts (SIGINT, SIGTERM) for every program, handled one way.
//
// The handler only records the signal (async-signal-safe); it is installed without SA_RESTART so
// a poll(2) in Host::step returns at once. Host::run_until and TcpStream's waits give up when it is
// set; the program then aborts its open connections with RST (what a kernel does when a process
// dies with unread data, RFC 9293 §3.10.5 ABORT), sends what is queued, flushes its pcap, prints
// one clean last line and exits 128 + the signal (130 for SIGINT, 143 for SIGTERM), as a shell
// reports a death by that signal.
#pragma once

namespace appkit {

void install_interrupt_handlers();
// The signal received (SIGINT or SIGTERM), or 0.
int interrupted();
// 128 + interrupted(): the exit code for a program stopped by it.
int interrupt_exit_code();
// "interrupted (SIGINT)" / "terminated (SIGTERM)".
const char* interrupt_description();

}  // namespace appkit
