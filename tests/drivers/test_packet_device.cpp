// drivers/packet_device: the AF_PACKET driver on a veth pair, with the real Linux kernel on the
// peer end, inside throw-away network namespaces created here (a forked child calls unshare), so
// nothing touches the machine's network. The socket tests need root (they fail, never skip,
// without it); the pure parts (frame filtering, option wiring, errors before any privilege) do not.
//
// The child cannot use doctest (its results would die with it): it writes "F <message>" and
// "I <message>" lines to a pipe and exits non-zero on failure; the parent turns them into doctest
// failures and messages.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/host.hpp"
#include "drivers/packet_device.hpp"
#include "frames.hpp"  // tests/drivers/frames.hpp

using drivers::PacketDevice;
using drivers::PacketError;
using drivers::PacketErrorKind;
using drivers::PacketOptions;
using stack::Instant;

namespace {

class Probe {
 public:
  explicit Probe(int fd) : fd_(fd) {}
  void check(bool ok, const std::string& what) {
    if (!ok) fail(what);
  }
  void fail(const std::string& what) {
    failed_ = true;
    line('F', what);
  }
  void info(const std::string& what) { line('I', what); }
  bool failed() const { return failed_; }

 private:
  void line(char kind, std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    const std::string l = std::string(1, kind) + " " + text + "\n";
    (void)!::write(fd_, l.data(), l.size());
  }
  int fd_;
  bool failed_ = false;
};

bool sh(Probe& p, const std::string& command) {
  const int rc = std::system((command + " >/dev/null 2>&1").c_str());
  if (rc != 0) p.fail("command failed (" + std::to_string(rc) + "): " + command);
  return rc == 0;
}

// Forks; the child enters a new network namespace and runs `body`; the parent reports.
void in_netns(const std::function<void(Probe&)>& body) {
  if (::geteuid() != 0) {
    FAIL("the AF_PACKET tests need root to create network namespaces and veths: run as root (tools/test does)");
  }
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    Probe p(fds[1]);
    if (::unshare(CLONE_NEWNET) != 0) {
      p.fail("unshare(CLONE_NEWNET) failed");
      ::_exit(2);
    }
    body(p);
    ::_exit(p.failed() ? 1 : 0);  // _exit: no doctest or sanitizer teardown in the child
  }
  ::close(fds[1]);
  std::string report;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);  // our own child, by its pid
      break;
    }
    struct pollfd pfd{fds[0], POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    report.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::istringstream lines(report);
  for (std::string l; std::getline(lines, l);) {
    if (l.rfind("F ", 0) == 0) FAIL_CHECK(l.substr(2));
    if (l.rfind("I ", 0) == 0) MESSAGE(l.substr(2));
  }
  CHECK_FALSE(timed_out);
  CHECK_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), "child exit status " << status);
}

// A veth pair: "pk0" for the driver (no kernel address), "pk0p" for the kernel, 10.99.0.1/24.
bool veth_pair(Probe& p, bool up = true) {
  if (!sh(p, "ip link add pk0 type veth peer name pk0p")) return false;
  std::system("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1");  // no IPv6 chatter
  std::system("sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1");
  if (!sh(p, "ip addr add 10.99.0.1/24 dev pk0p") || !sh(p, "ip link set pk0p up")) return false;
  return !up || sh(p, "ip link set pk0 up");
}

std::unique_ptr<PacketDevice> open_packet(Probe& p, const PacketOptions& o) {
  auto r = PacketDevice::open(o);
  if (!r) {
    p.fail("open " + o.name + ": " + r.error().message);
    return nullptr;
  }
  return std::move(*r);
}

void expect_error(Probe& p, const PacketOptions& o, PacketErrorKind kind, const std::string& must_say) {
  auto r = PacketDevice::open(o);
  const auto* e = r ? nullptr : &r.error();
  if (!e) {
    p.fail("open '" + o.name + "' succeeded, expected " + drivers::to_string(kind));
    return;
  }
  p.check(e->kind == kind, "open '" + o.name + "': kind " + drivers::to_string(e->kind) + ", expected " +
                               drivers::to_string(kind) + " (" + e->message + ")");
  p.check(e->message.find(must_say) != std::string::npos, "message lacks '" + must_say + "': " + e->message);
  p.check(e->message.find('\n') == std::string::npos, "message is not one line: " + e->message);
  p.info(e->message);
}

std::optional<stack::Bytes> await(drivers::Device& dev, int timeout_ms,
                                  const std::function<bool(std::span<const std::byte>)>& want) {
  stack::Bytes buf(dev.capabilities().max_frame);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    while (auto n = dev.receive(Instant{}, buf)) {
      std::span<const std::byte> f(buf.data(), *n);
      if (want(f)) return stack::Bytes(f.begin(), f.end());
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    struct pollfd pfd{dev.readable_fd(), POLLIN, 0};
    ::poll(&pfd, 1, static_cast<int>(left.count()));
  }
}

bool is_arp_reply_from_kernel(std::span<const std::byte> f) {
  return f.size() >= 42 && stack::load_be16(f, 12) == 0x0806 && stack::load_be16(f, 20) == 2 &&
         stack::wire::load_ipv4(f, 28) == test::kKernelIp && stack::wire::load_ipv4(f, 38) == test::kOurIp &&
         stack::wire::load_mac(f, 0) == test::kOurMac;
}

std::optional<test::MacAddress> arp_kernel(Probe& p, drivers::Device& dev) {
  // Three tries, a second apart: a request sent while the new veth's carrier is still coming up
  // is lost (seen on a loaded machine).
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (!dev.transmit(Instant{}, test::arp_request(test::kOurMac, test::kOurIp, test::kKernelIp))) {
      p.fail("transmit of the ARP request failed");
      return std::nullopt;
    }
    if (auto reply = await(dev, 1000, is_arp_reply_from_kernel)) return stack::wire::load_mac(*reply, 22);
  }
  p.fail("no ARP reply from the kernel to three requests, a second apart");
  return std::nullopt;
}

std::uint64_t counter(const drivers::Device& dev, const std::string& name) {
  for (const auto& [n, v] : dev.stats()) {
    if (n == name) return v;
  }
  return ~std::uint64_t{0};
}

appkit::ArgParser::Result parse(appkit::NetOptions& net, std::vector<std::string> args) {
  appkit::ArgParser parser("t", "t [options]");
  parser.add_net_options(net);
  return parser.parse(args);
}

}  // namespace

TEST_SUITE("drivers/packet_device") {
  TEST_CASE("frame filter: only copies of frames sent on the interface (PACKET_OUTGOING) are dropped") {
    CHECK(drivers::classify_packet_type(PACKET_HOST) == drivers::PacketRxVerdict::Accept);
    CHECK(drivers::classify_packet_type(PACKET_BROADCAST) == drivers::PacketRxVerdict::Accept);
    CHECK(drivers::classify_packet_type(PACKET_MULTICAST) == drivers::PacketRxVerdict::Accept);
    CHECK(drivers::classify_packet_type(PACKET_OTHERHOST) == drivers::PacketRxVerdict::Accept);  // our MAC, promisc
    CHECK(drivers::classify_packet_type(PACKET_OUTGOING) == drivers::PacketRxVerdict::DropOutgoing);
  }

  TEST_CASE("--iface selects the AF_PACKET driver, and --tap with it is a usage error in either order") {
    appkit::NetOptions a;
    auto r = parse(a, {"--iface", "veth7"});
    CHECK_FALSE(r.error.has_value());
    CHECK(a.driver == appkit::LinkDriver::Packet);
    CHECK(a.tap == "veth7");  // the link's name for lease files and messages

    appkit::NetOptions b;
    r = parse(b, {"--tap", "tap3"});
    CHECK_FALSE(r.error.has_value());
    CHECK(b.driver == appkit::LinkDriver::Tap);
    CHECK(b.tap == "tap3");

    for (const auto& args : {std::vector<std::string>{"--tap", "tap0", "--iface", "veth0"},
                             std::vector<std::string>{"--iface=veth0", "--tap=tap0"}}) {
      appkit::NetOptions c;
      r = parse(c, args);
      REQUIRE(r.error.has_value());
      CHECK(r.error->find("--tap and --iface") != std::string::npos);
    }

    appkit::ArgParser parser("t", "t [options]");
    appkit::NetOptions d;
    parser.add_net_options(d);
    CHECK(parser.help_text().find("--iface NAME") != std::string::npos);
  }

  TEST_CASE("Host::open with --iface of a missing interface: one-line usage error (no privilege needed)") {
    appkit::NetOptions net;
    REQUIRE_FALSE(parse(net, {"--iface", "nosuch-if9", "--ip", "10.1.2.3/24"}).error.has_value());
    auto opened = appkit::Host::open(net);
    REQUIRE_FALSE(opened.ok());
    const auto* err = &opened.error();
    CHECK(err->code == appkit::ExitCode::Usage);
    CHECK(err->message.find("no interface named nosuch-if9") != std::string::npos);
    CHECK(err->message.find('\n') == std::string::npos);
    MESSAGE(err->message);
  }

  TEST_CASE("open errors: bad name, no such interface, not Ethernet, down, no CAP_NET_RAW") {
    in_netns([](Probe& p) {
      expect_error(p, {.name = ""}, PacketErrorKind::BadName, "bad interface name");
      expect_error(p, {.name = "a-very-long-name0"}, PacketErrorKind::BadName, "bad interface name");
      expect_error(p, {.name = "nope0"}, PacketErrorKind::NoSuchDevice, "no interface named nope0");
      sh(p, "ip link set lo up");
      expect_error(p, {.name = "lo"}, PacketErrorKind::NotEthernet, "not an Ethernet interface");
      if (!veth_pair(p, false)) return;
      expect_error(p, {.name = "pk0"}, PacketErrorKind::InterfaceDown, "ip link set pk0 up");
      if (!sh(p, "ip link set pk0 up")) return;
      // Without CAP_NET_RAW: a child that dropped to nobody (root loses its capabilities on setuid).
      const pid_t pid = ::fork();
      if (pid == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) {
          p.fail("cannot drop to uid 65534");
          ::_exit(1);
        }
        expect_error(p, {.name = "pk0"}, PacketErrorKind::PermissionDenied, "CAP_NET_RAW");
        expect_error(p, {.name = "pk0"}, PacketErrorKind::PermissionDenied, "setcap cap_net_raw+ep");
        ::_exit(p.failed() ? 1 : 0);
      }
      int status = 0;
      ::waitpid(pid, &status, 0);
      p.check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "unprivileged child failed");
      auto dev = open_packet(p, {.name = "pk0"});  // and as root it opens
      if (!dev) return;
      p.check(dev->capabilities().mtu == 1500, "mtu from the interface: " + std::to_string(dev->capabilities().mtu));
    });
  }

  TEST_CASE("the kernel on the veth peer answers ARP and ping to our own MAC, and our sends never loop back") {
    in_netns([](Probe& p) {
      if (!veth_pair(p) || !sh(p, "ip link set pk0 mtu 1400")) return;
      auto dev = open_packet(p, {.name = "pk0"});
      if (!dev) return;
      p.check(dev->capabilities().mtu == 1400, "mtu " + std::to_string(dev->capabilities().mtu));
      p.check(dev->capabilities().rx_gso && dev->capabilities().max_frame == PacketDevice::kMaxGsoFrame,
              "capabilities: " + drivers::describe(dev->capabilities()));
      p.check(dev->readable_fd() >= 0, "readable_fd");
      const auto kernel_mac = arp_kernel(p, *dev);  // to our MAC, not pk0's: promiscuous mode works
      if (!kernel_mac) return;
      auto ping = test::icmp_echo_request(*kernel_mac, test::kOurMac, test::kOurIp, test::kKernelIp, 0x4242, 1);
      p.check(dev->transmit(Instant{}, ping), "transmit echo request");
      auto reply = await(*dev, 2000, [](std::span<const std::byte> f) {
        return f.size() >= 42 && stack::load_be16(f, 12) == 0x0800 && stack::load_u8(f, 23) == 1 &&
               stack::load_u8(f, 34) == 0 && stack::load_be16(f, 38) == 0x4242;
      });
      p.check(reply.has_value(), "no echo reply from the kernel");
      // Nothing we sent comes back as received (Linux never offers a packet socket its own sends).
      auto own = await(*dev, 300, [](std::span<const std::byte> f) {
        return f.size() >= 14 && stack::wire::load_mac(f, 6) == test::kOurMac;
      });
      p.check(!own.has_value(), "one of our own frames came back as received");
      p.check(counter(*dev, "tx_frames") == 2, "tx_frames " + std::to_string(counter(*dev, "tx_frames")));
      p.check(counter(*dev, "rx_frames") >= 2, "rx_frames " + std::to_string(counter(*dev, "rx_frames")));
      p.info(std::string("PACKET_IGNORE_OUTGOING ") + (dev->kernel_ignores_outgoing() ? "on" : "unavailable") +
             ", rx_dropped_outgoing " + std::to_string(counter(*dev, "rx_dropped_outgoing")));
      // A frame larger than the MTU is refused by the kernel, counted, not sent.
      stack::Bytes big = test::numbered_frame(1, 1400 + 14 + 1);
      p.check(!dev->transmit(Instant{}, big), "a frame over mtu + 14 was accepted");
      p.check(counter(*dev, "tx_dropped_error") == 1, "tx_dropped_error " + std::to_string(counter(*dev, "tx_dropped_error")));
    });
  }

  TEST_CASE("frames the kernel itself sends on the interface are not handed up, with or without PACKET_IGNORE_OUTGOING") {
    for (const bool in_kernel : {true, false}) {
      in_netns([in_kernel](Probe& p) {
        // The kernel gets an address of its own on pk0 and broadcasts UDP out of it: our socket is
        // offered a PACKET_OUTGOING copy (Linux never offers a packet socket its own sends).
        if (!veth_pair(p) || !sh(p, "ip addr add 10.98.0.1/24 dev pk0")) return;
        auto dev = open_packet(p, {.name = "pk0", .kernel_ignore_outgoing = in_kernel});
        if (!dev) return;
        p.check(dev->kernel_ignores_outgoing() == in_kernel, "kernel_ignores_outgoing");
        const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        const int on = 1;
        ::setsockopt(s, SOL_SOCKET, SO_BROADCAST, &on, sizeof on);
        struct sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(4242);
        to.sin_addr.s_addr = htonl(0x0a6200ffu);  // 10.98.0.255
        const char msg[] = "from the kernel";
        // sendto()'s own calling convention (sockaddr_in as sockaddr), not packet bytes.
        p.check(::sendto(s, msg, sizeof msg, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) == sizeof msg, "sendto");
        ::close(s);
        auto seen = await(*dev, 500, [](std::span<const std::byte> f) {
          return f.size() >= 42 && stack::load_be16(f, 12) == 0x0800 && stack::load_u8(f, 23) == 17 &&
                 stack::load_be16(f, 36) == 4242;
        });
        const std::string mode = in_kernel ? "PACKET_IGNORE_OUTGOING" : "sll_pkttype filter";
        p.check(!seen.has_value(), mode + ": the kernel's own broadcast was handed up as received");
        const auto dropped = counter(*dev, "rx_dropped_outgoing");
        if (in_kernel) {
          p.check(dropped == 0, mode + ": rx_dropped_outgoing " + std::to_string(dropped) + ", the kernel should filter");
        } else {
          p.check(dropped >= 1, mode + ": rx_dropped_outgoing " + std::to_string(dropped) + ", expected the copy");
        }
      });
    }
  }

  // With the virtio-net header its flags say the checksum is partial; without it (--no-offload)
  // PACKET_AUXDATA's TP_STATUS_CSUMNOTREADY does.
  TEST_CASE("the kernel's partial UDP checksum over a veth arrives completed, with or without vnet_hdr") {
    for (const bool vnet : {true, false}) {
    CAPTURE(vnet);
    in_netns([vnet](Probe& p) {
      if (!veth_pair(p)) return;
      auto dev = open_packet(p, {.name = "pk0", .vnet_hdr = vnet});
      if (!dev) return;
      // Room for a burst of super-frames (as root: SO_RCVBUFFORCE past net.core.rmem_max).
      int rcvbuf = 0;
      socklen_t len = sizeof rcvbuf;
      p.check(::getsockopt(dev->readable_fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len) == 0 && rcvbuf >= (8 << 20),
              "SO_RCVBUF " + std::to_string(rcvbuf) + ", expected 8 MiB (4 MiB asked, doubled by the kernel)");
      if (!sh(p, "ip neigh replace 10.99.0.2 lladdr 02:00:00:00:00:02 dev pk0p nud permanent")) return;
      const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      struct sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(9);
      to.sin_addr.s_addr = htonl(test::kOurIp.value);
      const char msg[] = "hello over a veth";
      // sendto()'s own calling convention (sockaddr_in as sockaddr), not packet bytes.
      p.check(::sendto(s, msg, sizeof msg, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) == sizeof msg, "sendto");
      ::close(s);
      auto udp = await(*dev, 2000, [](std::span<const std::byte> f) {
        return f.size() >= 42 && stack::load_be16(f, 12) == 0x0800 && stack::load_u8(f, 23) == 17;
      });
      if (!udp) {
        p.fail("no UDP frame from the kernel");
        return;
      }
      p.check(test::udp_checksum_valid(*udp), "the UDP checksum of the received frame verifies");
      p.check(counter(*dev, "rx_csum_completed") >= 1,
              "rx_csum_completed " + std::to_string(counter(*dev, "rx_csum_completed")) +
                  " (the veth peer has tx checksumming on: the kernel left the sum to us)");
    });
    }
  }

  TEST_CASE("kernel TCP over a veth with TSO arrives as checksummed super-frames larger than the MTU") {
    in_netns([](Probe& p) {
      if (!veth_pair(p)) return;
      auto dev = open_packet(p, {.name = "pk0"});
      if (!dev) return;
      const auto kernel_mac = arp_kernel(p, *dev);
      if (!kernel_mac || !sh(p, "ip neigh replace 10.99.0.2 lladdr 02:00:00:00:00:02 dev pk0p nud permanent")) return;
      const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      struct sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(8080);
      to.sin_addr.s_addr = htonl(test::kOurIp.value);
      ::connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to);
      auto is_tcp_to_us = [](std::span<const std::byte> f) {
        return f.size() >= 54 && stack::load_be16(f, 12) == 0x0800 && stack::load_u8(f, 23) == 6 &&
               stack::load_be16(f, 36) == 8080;
      };
      auto syn = await(*dev, 2000, [&](std::span<const std::byte> f) {
        return is_tcp_to_us(f) && (stack::load_u8(f, 47) & 0x02) != 0;
      });
      if (!syn) {
        p.fail("no SYN from the kernel");
        ::close(s);
        return;
      }
      p.check(test::l4_checksum_valid(*syn), "SYN checksum verifies");
      const std::uint16_t kernel_port = stack::load_be16(*syn, 34);
      const std::uint32_t kernel_iss = stack::load_be32(*syn, 38);
      p.check(dev->transmit(Instant{}, test::tcp_segment(*kernel_mac, test::kOurMac, test::kOurIp, test::kKernelIp, 8080,
                                                         kernel_port, 5000, kernel_iss + 1, 0x12, 65535, 1460)),
              "transmit SYN-ACK");
      struct pollfd pfd{s, POLLOUT, 0};
      p.check(::poll(&pfd, 1, 2000) == 1 && (pfd.revents & POLLOUT), "kernel socket connected");
      std::vector<char> data(60000, 'x');
      p.check(::send(s, data.data(), data.size(), 0) > 0, "kernel send()");
      std::size_t largest = 0;
      bool all_valid = true;
      while (largest <= 1514) {
        auto seg = await(*dev, 1000, [&](std::span<const std::byte> f) { return is_tcp_to_us(f) && f.size() > 54; });
        if (!seg) break;
        largest = std::max(largest, seg->size());
        all_valid = all_valid && test::l4_checksum_valid(*seg);
      }
      ::close(s);
      p.check(largest > 1514, "a super-frame larger than 1514 bytes arrived (largest " + std::to_string(largest) + ")");
      p.check(all_valid, "every data segment's TCP checksum verifies");
      p.check(counter(*dev, "rx_gso_frames") >= 1, "rx_gso_frames " + std::to_string(counter(*dev, "rx_gso_frames")));
      p.info("veth TSO: largest kernel TCP frame " + std::to_string(largest) + " bytes, rx_gso_frames " +
             std::to_string(counter(*dev, "rx_gso_frames")));
    });
  }

  TEST_CASE("without vnet_hdr, kernel TCP super-frames over a veth arrive cut into checksummed wire-sized segments") {
    in_netns([](Probe& p) {
      if (!veth_pair(p)) return;
      auto dev = open_packet(p, {.name = "pk0", .vnet_hdr = false});
      if (!dev) return;
      const auto kernel_mac = arp_kernel(p, *dev);
      if (!kernel_mac || !sh(p, "ip neigh replace 10.99.0.2 lladdr 02:00:00:00:00:02 dev pk0p nud permanent")) return;
      const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      struct sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(8080);
      to.sin_addr.s_addr = htonl(test::kOurIp.value);
      ::connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to);
      auto is_tcp_to_us = [](std::span<const std::byte> f) {
        return f.size() >= 54 && stack::load_be16(f, 12) == 0x0800 && stack::load_u8(f, 23) == 6 &&
               stack::load_be16(f, 36) == 8080;
      };
      auto syn = await(*dev, 2000, [&](std::span<const std::byte> f) {
        return is_tcp_to_us(f) && (stack::load_u8(f, 47) & 0x02) != 0;
      });
      if (!syn) {
        p.fail("no SYN from the kernel");
        ::close(s);
        return;
      }
      const std::uint16_t kernel_port = stack::load_be16(*syn, 34);
      const std::uint32_t kernel_iss = stack::load_be32(*syn, 38);
      p.check(dev->transmit(Instant{}, test::tcp_segment(*kernel_mac, test::kOurMac, test::kOurIp, test::kKernelIp, 8080,
                                                         kernel_port, 5000, kernel_iss + 1, 0x12, 65535, 1460)),
              "transmit SYN-ACK");
      struct pollfd pfd{s, POLLOUT, 0};
      p.check(::poll(&pfd, 1, 2000) == 1 && (pfd.revents & POLLOUT), "kernel socket connected");
      std::vector<char> data(60000, 'x');
      p.check(::send(s, data.data(), data.size(), 0) > 0, "kernel send()");
      // The initial window's worth (no ACKs from us), until the kernel's first retransmission:
      // every frame wire-sized, valid, in sequence.
      std::size_t largest = 0, segments = 0, bytes = 0;
      bool all_valid = true, in_order = true;
      while (auto seg = await(*dev, 1000, [&](std::span<const std::byte> f) { return is_tcp_to_us(f) && f.size() > 54; })) {
        const std::uint32_t seq = stack::load_be32(*seg, 38);
        if (seq - (kernel_iss + 1) < bytes) break;  // a retransmission: the window is all here
        largest = std::max(largest, seg->size());
        all_valid = all_valid && test::l4_checksum_valid(*seg);
        in_order = in_order && seq == kernel_iss + 1 + bytes;
        bytes += seg->size() - 54;
        ++segments;
      }
      ::close(s);
      p.check(segments >= 2 && largest <= 1514, std::to_string(segments) + " segments, largest " + std::to_string(largest) +
                                                    " bytes: expected several, none over 1514");
      p.check(all_valid, "every segment's TCP checksum verifies");
      p.check(in_order, "the segments carry consecutive sequence numbers");
      p.check(counter(*dev, "rx_gso_cut") >= 1, "rx_gso_cut " + std::to_string(counter(*dev, "rx_gso_cut")) +
                                                    " (veth TSO on the kernel's side: super-frames arrive)");
      p.check(counter(*dev, "rx_dropped_too_big") == 0, "rx_dropped_too_big " + std::to_string(counter(*dev, "rx_dropped_too_big")));
      p.info("no vnet_hdr: " + std::to_string(segments) + " segments, " + std::to_string(bytes) + " bytes, largest " +
             std::to_string(largest) + ", rx_gso_cut " + std::to_string(counter(*dev, "rx_gso_cut")));
    });
  }

  TEST_CASE("SuperFrameCutter: pieces like a kernel's segmentation, CWR first, FIN and PSH last, checksums whole") {
    // A 4000-byte payload with CWR|PSH|FIN|ACK, cut for an MTU of 1500 (1460 per piece).
    stack::Bytes big = test::tcp_segment(test::kOurMac, test::MacAddress{{0x02, 0, 0, 0, 0, 0x01}}, test::kKernelIp, test::kOurIp, 80, 8080, 1000,
                                         7, 0x80 | 0x08 | 0x01 | 0x10, 512);
    big.resize(54 + 4000);
    for (std::size_t i = 0; i < 4000; ++i) big[54 + i] = static_cast<std::byte>(i * 7);
    stack::store_be16(big, 16, 20 + 20 + 4000);
    drivers::SuperFrameCutter cut;
    REQUIRE(cut.load(big, 1500));
    stack::Bytes out(1514);
    std::vector<stack::Bytes> pieces;
    while (cut.pending()) {
      const std::size_t n = cut.next(out);
      REQUIRE(n > 0);
      pieces.emplace_back(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    }
    REQUIRE(pieces.size() == 3);
    std::size_t at = 0;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      const auto& f = pieces[i];
      CAPTURE(i);
      CHECK(f.size() == 54 + (i < 2 ? 1460 : 1080));
      CHECK(stack::load_be16(f, 16) == f.size() - 14);
      CHECK(stack::load_be16(f, 18) == 0x1c46 + i);
      CHECK(stack::wire::internet_checksum(std::span<const std::byte>(f).subspan(14, 20)) == 0);
      CHECK(test::l4_checksum_valid(f));
      CHECK(stack::load_be32(f, 38) == 1000 + at);
      const std::uint8_t flags = stack::load_u8(f, 47);
      CHECK(flags == (i == 0 ? 0x90 : i == 1 ? 0x10 : 0x19));
      CHECK(std::equal(f.begin() + 54, f.end(), big.begin() + 54 + static_cast<std::ptrdiff_t>(at)));
      at += f.size() - 54;
    }
    CHECK(at == 4000);
    stack::Bytes small(600);
    CHECK(cut.load(big, 1500));
    CHECK(cut.next(small) == 0);  // a buffer too small for a piece: nothing written
    stack::Bytes udp = big;
    stack::store_u8(udp, 23, 17);
    CHECK_FALSE(cut.load(udp, 1500));  // not TCP
  }

  TEST_CASE("without vnet_hdr, frames over the MTU are dropped and counted, not truncated") {
    in_netns([](Probe& p) {
      if (!veth_pair(p)) return;
      auto dev = open_packet(p, {.name = "pk0", .vnet_hdr = false});
      if (!dev) return;
      p.check(!dev->capabilities().rx_gso && dev->capabilities().max_frame == 1514, "capabilities");
      // The kernel sends 1000 bytes of UDP to our address: a 1042-byte frame for a 200-byte buffer.
      if (!sh(p, "ip neigh replace 10.99.0.2 lladdr 02:00:00:00:00:02 dev pk0p nud permanent")) return;
      const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      struct sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(9);
      to.sin_addr.s_addr = htonl(test::kOurIp.value);
      const std::vector<char> payload(1000, 'y');
      p.check(::sendto(s, payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 1000,
              "sendto");
      ::close(s);
      stack::Bytes small(200);
      bool seen = false;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (!seen && std::chrono::steady_clock::now() < deadline) {
        struct pollfd pfd{dev->readable_fd(), POLLIN, 0};
        ::poll(&pfd, 1, 100);
        while (auto n = dev->receive(Instant{}, small)) p.check(*n <= small.size(), "a truncated frame was returned");
        seen = counter(*dev, "rx_dropped_too_big") >= 1;
      }
      p.check(seen, "the 1042-byte UDP frame for a 200-byte buffer was counted as rx_dropped_too_big");
    });
  }
}
