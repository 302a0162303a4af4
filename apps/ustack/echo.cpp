// ustack echo: the Echo Protocol (RFC 862) on the stack — every UDP datagram sent back to its
// sender, every TCP byte sent back on its connection until the client closes, then our FIN.
//
//   ustack echo --ip 10.77.0.70/24 --gateway 10.77.0.1 [--udp-port 7] [--tcp-port 7] [--for S]
//   (from the kernel's side: socat - UDP:10.77.0.70:7, socat - TCP:10.77.0.70:7)
// Exit 0 when --for runs out, 130/143 on SIGINT/SIGTERM (open connections are reset first).
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/host.hpp"
#include "apps/common/interrupt.hpp"
#include "apps/common/network_setup.hpp"
#include "apps/ustack/commands.hpp"

namespace ustack_cli {

int run_echo(const std::vector<std::string>& args) {
  using appkit::ExitCode;
  appkit::NetOptions net;
  std::uint64_t udp_port = 7, tcp_port = 7, for_seconds = 0;
  bool verbose = false;
  appkit::ArgParser parser("ustack echo", "ustack echo [options] [--udp-port 7] [--tcp-port 7] [--for SECONDS]");
  parser.set_summary("the Echo Protocol (RFC 862) over UDP and TCP on the user-space stack");
  parser.option("--udp-port", "PORT", "echo UDP datagrams on PORT (default 7; 0: no UDP)",
                [&](const std::string& v) { return appkit::parse_u64(v, udp_port) && udp_port <= 65535; });
  parser.option("--tcp-port", "PORT", "echo TCP connections on PORT (default 7; 0: no TCP)",
                [&](const std::string& v) { return appkit::parse_u64(v, tcp_port) && tcp_port <= 65535; });
  parser.option("--for", "SECONDS", "stop after SECONDS, exit 0 (default: until Ctrl-C)",
                [&](const std::string& v) { return appkit::parse_u64(v, for_seconds); });
  parser.flag("-v", "one line per datagram and per connection", [&] { verbose = true; });
  parser.add_net_options(net);
  const auto parsed = parser.parse(args);
  if (const auto rc = parser.early_exit(parsed)) return *rc;
  if (!parsed.positional.empty() || (udp_port == 0 && tcp_port == 0)) {
    std::fprintf(stderr, "ustack echo: %s\n", parsed.positional.empty() ? "--udp-port 0 and --tcp-port 0: nothing to echo"
                                                                        : "takes no positional arguments");
    return static_cast<int>(ExitCode::Usage);
  }
  appkit::install_interrupt_handlers();
  auto ready = appkit::bring_up(net, "ustack echo");
  if (!ready) return ready.error();
  auto& host = *ready->host;
  auto& iface = host.iface();

  std::optional<stack::socket::UdpLayer::SocketId> udp;
  if (udp_port) {
    auto bound = iface.udp().bind(static_cast<std::uint16_t>(udp_port));
    if (!bound) {
      std::fprintf(stderr, "ustack echo: UDP port %llu is taken\n", static_cast<unsigned long long>(udp_port));
      return static_cast<int>(ExitCode::Failure);
    }
    udp = *bound;
  }
  std::optional<stack::socket::SocketId> listener;
  if (tcp_port) {
    auto l = iface.tcp().listen(stack::wire::Ipv4Address::any(), static_cast<std::uint16_t>(tcp_port), 16);
    if (!l) {
      std::fprintf(stderr, "ustack echo: cannot listen on TCP port %llu: %s\n", static_cast<unsigned long long>(tcp_port),
                   stack::socket::to_string(l.error()));
      return static_cast<int>(ExitCode::Failure);
    }
    listener = *l;
  }
  std::printf("ustack echo: %s, UDP port %llu, TCP port %llu\n", iface.address()->describe().c_str(),
              static_cast<unsigned long long>(udp_port), static_cast<unsigned long long>(tcp_port));
  std::fflush(stdout);

  struct Conn {
    stack::Bytes pending;  // received, not yet taken by the send buffer
    bool peer_done = false;
  };
  std::map<stack::socket::SocketId, Conn> conns;
  std::uint64_t datagrams = 0, bytes = 0;
  const stack::Instant start = host.now();
  const std::optional<stack::Instant> until =
      for_seconds ? std::optional(start + stack::Duration::from_secs(static_cast<std::int64_t>(for_seconds))) : std::nullopt;
  std::vector<std::byte> buf(64 * 1024);
  while (!appkit::interrupted() && !(until && host.now() >= *until)) {
    host.step(until);
    if (udp) {
      while (auto d = iface.udp().recv_from(*udp)) {
        // RFC 862: "send it back as an echo" — to the sender's address and port.
        (void)iface.udp().send_to(*udp, d->from, d->payload);
        ++datagrams;
        if (verbose) std::printf("udp %s: %zu bytes\n", d->from.describe().c_str(), d->payload.size());
      }
    }
    if (listener) {
      while (auto id = iface.tcp().accept(*listener)) {
        conns.emplace(*id, Conn{});
        if (verbose) std::printf("tcp connection %llu accepted\n", static_cast<unsigned long long>(*id));
      }
    }
    for (auto it = conns.begin(); it != conns.end();) {
      const auto id = it->first;
      Conn& c = it->second;
      bool failed = false;
      while (!c.peer_done && c.pending.size() < buf.size()) {
        auto r = iface.tcp().recv(id, buf);
        if (!r) {
          failed = r.error() != stack::socket::RecvError::WouldBlock;
          break;
        }
        if (*r == 0) {
          c.peer_done = true;  // the client's FIN: echo what is left, then ours
          break;
        }
        c.pending.insert(c.pending.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*r));
        bytes += *r;
      }
      if (!failed && !c.pending.empty()) {
        auto w = iface.tcp().send(id, c.pending);
        if (!w) failed = true;
        else c.pending.erase(c.pending.begin(), c.pending.begin() + static_cast<std::ptrdiff_t>(*w));
      }
      if (failed || (c.peer_done && c.pending.empty())) {
        if (!failed) iface.tcp().shutdown(id);
        iface.tcp().close(id);  // the stack finishes the close (or it already failed)
        if (verbose) std::printf("tcp connection %llu %s\n", static_cast<unsigned long long>(id), failed ? "failed" : "closed");
        it = conns.erase(it);
        continue;
      }
      ++it;
    }
    std::fflush(stdout);
  }
  if (appkit::interrupted()) {
    for (auto& [id, c] : conns) iface.tcp().abort(id);
    host.flush();
  }
  std::printf("ustack echo: %llu datagrams, %llu TCP bytes echoed\n", static_cast<unsigned long long>(datagrams),
              static_cast<unsigned long long>(bytes));
  if (net.stats) host.print_stats(stdout);
  return appkit::interrupted() ? appkit::interrupt_exit_code() : 0;
}

}  // namespace ustack_cli
