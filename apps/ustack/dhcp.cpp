// ustack dhcp: get a DHCP lease with the stack's own client and print it, in the habits of
// udhcpc and dhclient.
//
//   $ ustack dhcp --tap tap0
//   DISCOVER → ACK (rapid commit) → ARP probe 10.77.0.135
//   lease of 10.77.0.135 obtained from 10.77.0.1, lease time 3600
//     address   10.77.0.135/24
//     router    10.77.0.1
//     dns       198.51.100.53
//     lease     3600 s (1h)
//     T1        1800 s (30m, renewal)
//     T2        3150 s (52m30s, rebinding)
//     server    10.77.0.1
//   bound to 10.77.0.135 -- renewal in 1800 seconds.
//
// The lease is saved (--lease-file) so the next start asks for the same address (INIT-REBOOT).
// --release sends DHCPRELEASE for the stored lease; --renew-test renews 2 s after binding instead
// of at T1 (a real RENEWING exchange, unicast to the server, like udhcpc's SIGUSR1).
//
// Exit 0 with a lease; 1 when none came in time (as udhcpc -n, and as every other program of
// ours that runs DHCP first) or when nothing to release; 2 on usage or device errors; 130/143 on
// SIGINT/SIGTERM.
#include <cstdio>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/dhcp_setup.hpp"
#include "apps/common/host.hpp"
#include "apps/common/interrupt.hpp"
#include "apps/common/version.hpp"
#include "apps/ustack/commands.hpp"

namespace ustack_cli {

int run_dhcp(const std::vector<std::string>& args);

namespace {

using appkit::ExitCode;
using stack::Duration;

bool parse_seconds(const std::string& text, Duration& out) {
  std::uint64_t v = 0;
  if (!appkit::parse_u64(text, v) || v == 0 || v > 3600) return false;
  out = Duration::from_secs(static_cast<std::int64_t>(v));
  return true;
}

void print_fragment(const std::string& text, bool end_of_line) {
  std::fputs(text.c_str(), stdout);
  if (end_of_line) std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace

int run_dhcp(const std::vector<std::string>& args) {
  appkit::NetOptions net;
  appkit::DhcpSetupOptions opts;
  bool release = false;
  bool release_on_exit = false;
  bool renew_test = false;
  bool no_persist = false;
  std::uint64_t lease_secs = 0;

  appkit::ArgParser parser("ustack dhcp",
                           "ustack dhcp [options] [--release] [--lease-file F] [--renew-test] [--hostname H]");
  parser.set_summary("get a DHCP lease over the user-space stack and print it, like udhcpc");
  parser.flag("--release", "send DHCPRELEASE for the stored lease and forget it", [&] { release = true; });
  parser.option("--lease-file", "F", "where the lease is kept (default $XDG_STATE_HOME/ustack/lease-TAP-netNETNS)",
                [&](const std::string& v) { opts.lease_file = v; return !v.empty(); });
  parser.flag("--no-lease-file", "neither reuse nor save a lease (always DISCOVER)", [&] { no_persist = true; });
  parser.flag("--renew-test", "renew 2 s after binding (RENEWING, unicast) and print the renewal",
              [&] { renew_test = true; });
  parser.flag("--release-on-exit", "release the lease before exiting", [&] { release_on_exit = true; });
  parser.option("--hostname", "H", "send H as our hostname (option 12)", [&](const std::string& v) {
    opts.hostname = v;
    return !v.empty() && v.size() <= 63;
  });
  parser.option("--timeout", "SECONDS", "give up without a lease after SECONDS (default 30)",
                [&](const std::string& v) { return parse_seconds(v, opts.timeout); });
  parser.option("--lease-time", "SECONDS", "ask for this lease time (option 51)", [&](const std::string& v) {
    return appkit::parse_u64(v, lease_secs) && lease_secs > 0 && lease_secs < 0xffffffffu;
  });
  parser.flag("--no-rapid-commit", "do not ask for Rapid Commit (RFC 4039): always four messages",
              [&] { opts.rapid_commit = false; });
  parser.flag("--rfc-timers", "RFC 2131/5227 timers exactly (4 s retransmission, 3 ARP probes over ~7 s)",
              [&] { opts.rfc_timers = true; });
  parser.flag("-v", "print every DHCP event on its own line", [&] { opts.verbose = true; });
  parser.add_net_options(net);
  const auto parsed = parser.parse(args);
  if (const auto rc = parser.early_exit(parsed)) return *rc;
  if (!parsed.positional.empty()) {
    std::fprintf(stderr, "ustack dhcp: unexpected argument '%s'\n", parsed.positional[0].c_str());
    return static_cast<int>(ExitCode::Usage);
  }
  if (net.ip) {
    std::fprintf(stderr, "ustack dhcp: --ip makes no sense here: the address comes from DHCP\n");
    return static_cast<int>(ExitCode::Usage);
  }
  opts.tap = net.tap;
  opts.persist = !no_persist;
  if (lease_secs) opts.requested_lease_time = static_cast<std::uint32_t>(lease_secs);

  appkit::install_interrupt_handlers();
  auto opened = appkit::Host::open(net);
  if (!opened) {
    std::fprintf(stderr, "ustack dhcp: %s\n", opened.error().message.c_str());
    return static_cast<int>(opened.error().code);
  }
  auto& host = **opened;

  if (release) {
    const bool ok = appkit::DhcpSession::release_stored(host, opts, print_fragment);
    if (net.stats) host.print_stats(stdout);
    return ok ? 0 : static_cast<int>(ExitCode::Failure);
  }

  auto session = appkit::DhcpSession::start(host, opts, print_fragment);
  if (!session) {
    std::fprintf(stderr, "ustack dhcp: UDP port 68 is already in use\n");
    return static_cast<int>(ExitCode::Failure);
  }
  const auto lease = session->run_until_bound();
  if (!lease) {
    session.reset();  // ends an open narration line
    if (appkit::interrupted()) std::fprintf(stderr, "ustack dhcp: %s, no lease\n", appkit::interrupt_description());
    if (net.stats) host.print_stats(stdout);
    return appkit::interrupted() ? appkit::interrupt_exit_code() : static_cast<int>(ExitCode::Failure);
  }
  for (const auto& line : appkit::format_lease(*lease)) std::printf("%s\n", line.c_str());
  std::printf("(%s in %.1f ms)\n", lease->init_reboot ? "INIT-REBOOT" : lease->rapid_commit ? "rapid commit" : "4 messages",
              static_cast<double>(lease->took.micros()) / 1000.0);
  std::fflush(stdout);

  int rc = 0;
  if (renew_test) {
    // DEVIATION(RFC 2131 §4.4.5): RENEWING starts 2 s after binding instead of at T1 (half the
    // lease, 30 min with the sandbox's dnsmasq, which will not grant under 2 min even when asked),
    // so a test sees a real renewal: a REQUEST with ciaddr unicast to the server, and its ACK.
    const stack::Instant wake = host.now() + Duration::from_secs(2);
    while (host.now() < wake) {
      session->poll();
      auto at = session->poll_at();
      host.step(at && *at < wake ? *at : wake);
    }
    const auto renewed = session->renew_now(Duration::from_secs(10));
    if (renewed) {
      std::printf("renewed %s from %s, lease time %u (in %.1f ms)\n", renewed->address.address.describe().c_str(),
                  renewed->server_id.describe().c_str(), renewed->lease_time,
                  static_cast<double>(renewed->took.micros()) / 1000.0);
      std::printf("bound to %s -- renewal in %u seconds.\n", renewed->address.address.describe().c_str(), renewed->t1);
    } else {
      std::printf("renewal failed\n");
      rc = static_cast<int>(ExitCode::Failure);
    }
    std::fflush(stdout);
  }
  if (release_on_exit) (void)session->release();
  for (const auto& [name, value] : session->agent().client().stats()) {
    if (net.stats) std::printf("%-40s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
  }
  if (net.stats) host.print_stats(stdout);
  return rc;
}

}  // namespace ustack_cli
