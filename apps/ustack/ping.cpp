// ustack ping: ICMP echo over our own stack, in the habits of iputils ping.
//
//   PING 10.77.0.1 (10.77.0.1) 56(84) bytes of data.
//   64 bytes from 10.77.0.1: icmp_seq=1 ttl=64 time=0.215 ms
//   ...
//   --- 10.77.0.1 ping statistics ---
//   3 packets transmitted, 3 received, 0% packet loss, time 2003ms
//   rtt min/avg/max/mdev = 0.101/0.170/0.215/0.049 ms
//
// Exit 0 when replies came back, 1 when none did, 2 on usage or device errors (like iputils).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/host.hpp"
#include "apps/common/network_setup.hpp"
#include "apps/ustack/commands.hpp"
#include "stack/events.hpp"

namespace ustack_cli {

namespace {

using appkit::ExitCode;
using stack::Duration;
using stack::Instant;

volatile std::sig_atomic_t g_interrupted = 0;
void on_sigint(int) { g_interrupted = 1; }

bool parse_seconds(const std::string& text, Duration& out) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(v >= 0.0) || v > 3600.0) return false;
  out = Duration::from_micros(static_cast<std::int64_t>(v * 1e6));
  return true;
}

double ms(Duration d) { return static_cast<double>(d.micros()) / 1000.0; }

}  // namespace

int run_ping(const std::vector<std::string>& args) {
  appkit::NetOptions net;
  std::uint64_t count = 0;  // 0: until interrupted
  Duration interval = Duration::from_secs(1);
  Duration linger = Duration::from_secs(10);  // iputils -W: how long to wait for the last replies
  std::uint64_t size = 56;
  bool verbose = false;
  bool quiet = false;

  appkit::ArgParser parser("ustack ping", "ustack ping [options] [-c N] [-i SECONDS] [-s SIZE] [-W SECONDS] HOST");
  parser.set_summary("ICMP echo over the user-space stack, in the habits of iputils ping");
  parser.option("-c", "N", "stop after sending N echo requests", [&](const std::string& v) {
    return appkit::parse_u64(v, count) && count > 0;
  });
  parser.option("-i", "SECONDS", "wait SECONDS between requests (default 1)", [&](const std::string& v) {
    return parse_seconds(v, interval) && interval >= Duration::from_millis(1);
  });
  parser.option("-s", "SIZE", "data bytes per request (default 56; up to 65507, fragmented above the MTU)",
                [&](const std::string& v) { return appkit::parse_u64(v, size) && size <= 65507; });
  parser.option("-W", "SECONDS", "time to wait for the last replies (default 10)",
                [&](const std::string& v) { return parse_seconds(v, linger); });
  parser.flag("-v", "also print what the stack does (ARP, drops)", [&] { verbose = true; });
  parser.flag("-q", "quiet: only the summary", [&] { quiet = true; });
  parser.add_net_options(net);
  const auto parsed = parser.parse(args);
  if (const auto rc = parser.early_exit(parsed)) return *rc;
  if (parsed.positional.size() != 1) {
    std::fprintf(stderr, "ustack ping: give exactly one HOST (see ustack ping --help)\n");
    return static_cast<int>(ExitCode::Usage);
  }
  const std::string& host_arg = parsed.positional[0];

  auto ready = appkit::bring_up(net, "ustack ping", quiet);
  if (!ready) return ready.error();
  auto& host = *ready->host;
  // A name as iputils resolves it (hosts file, then DNS): "ping: NAME: Name or service not known", exit 2.
  const auto resolved = appkit::resolve_host(host, net, ready->network, host_arg);
  if (!resolved.address) {
    std::fprintf(stderr, "ustack ping: %s: %s\n", host_arg.c_str(), resolved.error.c_str());
    return static_cast<int>(ExitCode::Usage);
  }
  const auto target = resolved.address;
  // iputils: "ping: connect: Network is unreachable", exit 2, before sending anything.
  if (auto reason = appkit::unreachable_reason(host.iface(), *target)) {
    std::fprintf(stderr, "ustack ping: connect: %s\n", reason->c_str());
    return static_cast<int>(ExitCode::Usage);
  }
  auto& iface = host.iface();
  if (verbose) {
    host.add_event_listener([](Instant, const stack::Event& e) { std::printf("  [stack] %s\n", stack::describe(e).c_str()); });
  }
  const auto ident = static_cast<std::uint16_t>(getpid() & 0xffff);
  const auto sock = iface.icmp().open(ident);
  if (!sock) {
    std::fprintf(stderr, "ustack ping: identifier %u in use\n", ident);
    return static_cast<int>(ExitCode::Failure);
  }
  // Narrate ARP failure as iputils does: "From <us> icmp_seq=N Destination Host Unreachable", one
  // line per echo request that waited for the neighbour in vain (the kernel fails each one).
  const auto next_hop = iface.next_hop(*target);
  std::vector<std::uint16_t> waiting_for_arp;  // sent, neither answered nor failed yet
  std::uint64_t errors = 0;
  std::map<std::uint16_t, int> replies_for;
  host.add_event_listener([&](Instant, const stack::Event& e) {
    const auto* f = std::get_if<stack::event::ArpFailed>(&e);
    if (!f || f->ip != *next_hop) return;
    for (const auto seq : waiting_for_arp) {
      if (replies_for.count(seq)) continue;
      ++errors;
      if (!quiet) {
        std::printf("From %s icmp_seq=%u Destination Host Unreachable\n", iface.address()->address.describe().c_str(), seq);
      }
    }
    waiting_for_arp.clear();
  });

  std::signal(SIGINT, on_sigint);
  std::printf("PING %s (%s) %llu(%llu) bytes of data.\n", host_arg.c_str(), target->describe().c_str(),
              static_cast<unsigned long long>(size), static_cast<unsigned long long>(size + 28));
  std::fflush(stdout);

  std::map<std::uint16_t, Instant> sent_at;
  std::vector<double> rtts;
  std::uint64_t transmitted = 0;
  std::uint64_t received = 0;
  const Instant start = host.now();
  Instant next_send = start;
  std::optional<Instant> stop_at;

  // The data: a counter pattern like iputils (which puts a timestamp first; we keep times here).
  std::vector<std::byte> data(size);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i & 0xff);

  while (!g_interrupted) {
    const Instant now = host.now();
    if (!stop_at && now >= next_send) {
      const auto seq = static_cast<std::uint16_t>(transmitted + 1);
      iface.icmp().send_echo(*sock, *target, seq, data);
      sent_at[seq] = now;
      // Only an unresolved neighbour can fail it; a resolved one sends it at once.
      if (!iface.arp_cache().peek(*next_hop, now)) waiting_for_arp.push_back(seq);
      ++transmitted;
      next_send = now + interval;
      if (count && transmitted >= count) stop_at = now + linger;
    }
    while (auto reply = iface.icmp().recv_reply(*sock)) {
      const Instant t = host.now();
      auto it = sent_at.find(reply->seq);
      if (it == sent_at.end()) continue;  // not one of ours (a stale reply from an earlier run)
      const bool dup = replies_for[reply->seq]++ > 0;
      const Duration rtt = t - it->second;
      if (!dup) {
        ++received;
        rtts.push_back(ms(rtt));
      }
      if (!quiet) {
        std::printf("%zu bytes from %s: icmp_seq=%u ttl=%u time=%.3f ms%s\n", reply->icmp_len,
                    reply->from.describe().c_str(), reply->seq, reply->ttl, ms(rtt), dup ? " (DUP!)" : "");
      }
    }
    while (auto error = iface.icmp().recv_error(*sock)) {
      ++errors;
      if (!quiet) std::printf("From %s icmp_seq=%u %s\n", error->from.describe().c_str(), error->seq, error->what.c_str());
    }
    std::fflush(stdout);
    if (stop_at && (received + errors >= transmitted || host.now() >= *stop_at)) break;
    host.step(stop_at ? std::min(*stop_at, next_send) : next_send);
  }

  const Duration elapsed = host.now() - start;
  std::printf("\n--- %s ping statistics ---\n", host_arg.c_str());
  const double loss = transmitted ? 100.0 * static_cast<double>(transmitted - received) / static_cast<double>(transmitted) : 0.0;
  std::printf("%llu packets transmitted, %llu received,", static_cast<unsigned long long>(transmitted),
              static_cast<unsigned long long>(received));
  if (errors) std::printf(" +%llu errors,", static_cast<unsigned long long>(errors));
  std::printf(" %g%% packet loss, time %lldms\n", std::round(loss * 1000) / 1000, static_cast<long long>(elapsed.millis()));
  if (!rtts.empty()) {
    const double mn = *std::min_element(rtts.begin(), rtts.end());
    const double mx = *std::max_element(rtts.begin(), rtts.end());
    double sum = 0, sum2 = 0;
    for (double r : rtts) {
      sum += r;
      sum2 += r * r;
    }
    const double avg = sum / static_cast<double>(rtts.size());
    const double mdev = std::sqrt(std::max(0.0, sum2 / static_cast<double>(rtts.size()) - avg * avg));
    std::printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", mn, avg, mx, mdev);
  }
  if (net.stats) host.print_stats(stdout);
  return received > 0 ? 0 : 1;
}

}  // namespace ustack_cli
