// ustack up: bring the stack up on its link (TAP, or --iface through AF_PACKET) and keep it
// answering (ARP, ping) until interrupted or --for SECONDS pass. The passive side for tests: the kernel pings or arpings us.
//
//   ustack up --ip 10.77.0.50/24 --gateway 10.77.0.1 [--for 30] [-v] [--stats] [--pcap F]
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/host.hpp"
#include "apps/common/network_setup.hpp"
#include "apps/ustack/commands.hpp"

namespace ustack_cli {

namespace {
// The signal that stopped us (SIGINT 2, SIGTERM 15), or 1 when --for ran out.
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int sig) { g_stop = sig; }
}  // namespace

int run_up(const std::vector<std::string>& args) {
  using appkit::ExitCode;
  appkit::NetOptions net;
  std::uint64_t for_seconds = 0;
  bool verbose = false;
  appkit::ArgParser parser("ustack up", "ustack up [options] [--for SECONDS] [-v]");
  parser.set_summary("bring the user-space stack up and answer ARP and ping");
  parser.option("--for", "SECONDS", "stay up this long, then exit 0 (default: until Ctrl-C)",
                [&](const std::string& v) { return appkit::parse_u64(v, for_seconds); });
  parser.flag("-v", "print every stack event (ARP, echo requests answered, drops)", [&] { verbose = true; });
  parser.add_net_options(net);
  const auto parsed = parser.parse(args);
  if (const auto rc = parser.early_exit(parsed)) return *rc;
  if (parsed.error || !parsed.positional.empty()) {
    std::fprintf(stderr, "ustack up: %s\n", parsed.error ? parsed.error->c_str() : "takes no positional arguments");
    return static_cast<int>(ExitCode::Usage);
  }
  auto ready = appkit::bring_up(net, "ustack up");
  if (!ready) return ready.error();
  auto& host = *ready->host;
  if (verbose) {
    host.add_event_listener([](stack::Instant, const stack::Event& e) {
      std::printf("%s\n", stack::describe(e).c_str());
      std::fflush(stdout);
    });
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::printf("ustack up: %s on %s (%s), mac %s\n", host.iface().address()->describe().c_str(), net.tap.c_str(),
              drivers::describe(host.device().capabilities()).c_str(), host.iface().mac().describe().c_str());
  std::fflush(stdout);
  const stack::Instant start = host.now();
  const std::optional<stack::Instant> until =
      for_seconds ? std::optional(start + stack::Duration::from_secs(static_cast<std::int64_t>(for_seconds))) : std::nullopt;
  host.run_until([] { return g_stop != 0; }, until);
  if (net.stats) host.print_stats(stdout);
  // Stopped by a signal: 128 + its number, as a shell reports it; --for running out: 0.
  return g_stop > 1 ? 128 + g_stop : 0;
}

}  // namespace ustack_cli
