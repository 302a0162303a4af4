// drivers/tap_device: a real TAP device and the real Linux kernel as the peer, each test inside
// throw-away network and mount namespaces created here (a forked child calls unshare), so nothing
// leaks and nothing touches the machine's network. Needs root: the test fails, never skips,
// without it.
//
// The child cannot use doctest (its results would die with it): it writes "F <message>" and
// "I <message>" lines to a pipe and exits non-zero on failure; the parent turns them into doctest
// failures and messages.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "drivers/linux_net.hpp"
#include "drivers/tap_device.hpp"
#include "frames.hpp"  // tests/drivers/frames.hpp

using drivers::TapDevice;
using drivers::TapError;
using drivers::TapErrorKind;
using drivers::TapOptions;
using stack::Instant;

namespace {

// What a child reports back.
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

// Runs a shell command inside the child's namespaces; a failure is reported with the command.
bool sh(Probe& p, const std::string& command) {
  const int rc = std::system((command + " >/dev/null 2>&1").c_str());
  if (rc != 0) p.fail("command failed (" + std::to_string(rc) + "): " + command);
  return rc == 0;
}

// Gives the child a private /dev/net with its own tun node of the given mode, so tests can
// change it (or remove it) without touching the machine's /dev.
bool private_dev_net(Probe& p, bool with_tun, mode_t mode) {
  if (::mount("tmpfs", "/dev/net", "tmpfs", 0, "mode=0755") != 0) {
    p.fail("mount tmpfs on /dev/net failed");
    return false;
  }
  if (!with_tun) return true;
  if (::mknod("/dev/net/tun", S_IFCHR | mode, ::makedev(10, 200)) != 0 || ::chmod("/dev/net/tun", mode) != 0) {
    p.fail("mknod /dev/net/tun failed");
    return false;
  }
  return true;
}

void become_nobody(Probe& p) {
  if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) p.fail("cannot drop to uid 65534");
}

// Forks; the child enters new network and mount namespaces and runs `body`. The parent reports
// the child's findings to doctest and checks its exit status.
void in_namespaces(const std::function<void(Probe&)>& body) {
  if (::geteuid() != 0) {
    FAIL("the TAP tests need root to create network namespaces and TAP devices: run as root (tools/test does)");
  }
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    Probe p(fds[1]);
    if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) {
      p.fail("unshare(CLONE_NEWNET | CLONE_NEWNS) failed");
      ::_exit(2);
    }
    // Mounts made from here on stay in this child's namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      p.fail("cannot make mounts private");
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

std::unique_ptr<TapDevice> open_tap(Probe& p, const TapOptions& o) {
  auto r = TapDevice::open(o);
  if (!r) {
    p.fail("open " + o.name + ": " + r.error().message);
    return nullptr;
  }
  return std::move(*r);
}

void expect_error(Probe& p, const TapOptions& o, TapErrorKind kind, const std::string& must_say) {
  auto r = TapDevice::open(o);
  const auto* e = r ? nullptr : &r.error();
  if (!e) {
    p.fail("open " + o.name + " succeeded, expected " + drivers::to_string(kind));
    return;
  }
  p.check(e->kind == kind, "open " + o.name + ": kind " + drivers::to_string(e->kind) + ", expected " +
                               drivers::to_string(kind) + " (" + e->message + ")");
  p.check(e->message.find(must_say) != std::string::npos, "message lacks '" + must_say + "': " + e->message);
  p.check(e->message.find('\n') == std::string::npos, "message is not one line: " + e->message);
  p.info(e->message);
}

// Waits up to `timeout_ms` for a frame for which `want` is true; other frames (IPv6 noise, the
// kernel's own ARP) are skipped.
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

// Brings `name` up as the kernel's side, 10.99.0.1/24, without IPv6 chatter.
bool kernel_side_up(Probe& p, const std::string& name) {
  std::system(("sysctl -qw net.ipv6.conf." + name + ".disable_ipv6=1 >/dev/null 2>&1").c_str());
  return sh(p, "ip addr add 10.99.0.1/24 dev " + name) && sh(p, "ip link set " + name + " up");
}

// One ARP request for the kernel's address; returns the kernel's MAC from the reply.
std::optional<test::MacAddress> arp_kernel(Probe& p, drivers::Device& dev) {
  if (!dev.transmit(Instant{}, test::arp_request(test::kOurMac, test::kOurIp, test::kKernelIp))) {
    p.fail("transmit of the ARP request failed");
    return std::nullopt;
  }
  auto reply = await(dev, 2000, is_arp_reply_from_kernel);
  if (!reply) {
    p.fail("no ARP reply from the kernel within 2 s");
    return std::nullopt;
  }
  return stack::wire::load_mac(*reply, 22);
}

std::string micros(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  std::ostringstream s;
  s.precision(1);
  s << std::fixed << "min " << v.front() << " µs, median " << v[v.size() / 2] << " µs over " << v.size();
  return s.str();
}

}  // namespace

namespace {
// A UDP datagram 10.99.0.1:9 -> 10.99.0.2:9 "hello", checksum field holding only the folded
// pseudo-header sum, the way the kernel hands CHECKSUM_PARTIAL frames over (NEEDS_CSUM).
stack::Bytes partial_udp_hello() {
  stack::Bytes f;
  test::put_ethernet(f, test::kOurMac, test::MacAddress{{2, 0, 0, 0, 0, 1}}, 0x0800);
  test::put_ipv4(f, test::kKernelIp, test::kOurIp, 17, 8 + 5);
  stack::store_be16(f, 34, 9);
  stack::store_be16(f, 36, 9);
  stack::store_be16(f, 38, 13);
  for (std::size_t i = 0; i < 5; ++i) f[42 + i] = static_cast<std::byte>("hello"[i]);
  stack::wire::ChecksumAccumulator pseudo;
  pseudo.add_pseudo_header(test::kKernelIp, test::kOurIp, stack::wire::IpProtocol::Udp, 13);
  stack::store_be16(f, 40, static_cast<std::uint16_t>(~pseudo.finish()));
  return f;
}
}  // namespace

TEST_SUITE("drivers/tap_device") {
  TEST_CASE("a created TAP gets a real ARP reply and ICMP echo reply from the kernel") {
    in_namespaces([](Probe& p) {
      auto tap = open_tap(p, {.name = "ustk0"});
      if (!tap) return;
      p.check(tap->created(), "the TAP should have been created by us");
      p.check(tap->name() == "ustk0", "name " + tap->name());
      p.check(tap->capabilities().mtu == 1500, "mtu " + std::to_string(tap->capabilities().mtu));
      p.check(tap->capabilities().max_frame == 1514, "max_frame");
      p.check(tap->readable_fd() >= 0, "readable_fd");
      stack::Bytes buf(1514);
      p.check(!tap->receive(Instant{}, buf).has_value(), "nothing to receive before the link is up");
      if (!kernel_side_up(p, "ustk0")) return;

      auto kernel_mac = arp_kernel(p, *tap);
      if (!kernel_mac) return;
      p.info("kernel side MAC " + kernel_mac->describe());

      std::vector<double> arp_rtt;
      for (int i = 0; i < 200; ++i) {
        const auto t = std::chrono::steady_clock::now();
        if (!arp_kernel(p, *tap)) return;
        arp_rtt.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count());
      }
      p.info("TAP ARP round trip (write, kernel reply, read): " + micros(arp_rtt));

      std::vector<double> ping_rtt;
      for (std::uint16_t seq = 1; seq <= 200; ++seq) {
        const auto t = std::chrono::steady_clock::now();
        if (!tap->transmit(Instant{}, test::icmp_echo_request(*kernel_mac, test::kOurMac, test::kOurIp, test::kKernelIp,
                                                              0x1234, seq))) {
          p.fail("transmit of the echo request failed");
          return;
        }
        auto reply = await(*tap, 2000, [&](std::span<const std::byte> f) {
          return f.size() >= 42 && stack::load_be16(f, 12) == 0x0800 && stack::load_u8(f, 23) == 1 &&
                 stack::load_u8(f, 34) == 0 && stack::load_be16(f, 38) == 0x1234 && stack::load_be16(f, 40) == seq;
        });
        if (!reply) {
          p.fail("no ICMP echo reply for seq " + std::to_string(seq));
          return;
        }
        ping_rtt.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count());
        p.check(stack::wire::internet_checksum(std::span<const std::byte>(*reply).subspan(34)) == 0,
                "echo reply ICMP checksum");
      }
      p.info("TAP ICMP echo round trip: " + micros(ping_rtt));
      for (const auto& [name, value] : tap->stats()) {
        if (name == "rx_frames") p.check(value >= 400, "rx_frames " + std::to_string(value));
        if (name == "tx_frames") p.check(value == 401, "tx_frames " + std::to_string(value));
      }
    });
  }

  TEST_CASE("attaching to an existing persistent TAP leaves it in place afterwards") {
    in_namespaces([](Probe& p) {
      if (!sh(p, "ip tuntap add dev ptap0 mode tap")) return;
      {
        auto tap = open_tap(p, {.name = "ptap0", .create = false});
        if (!tap) return;
        p.check(!tap->created(), "attached, not created");
      }
      sh(p, "ip link show ptap0");
    });
  }

  TEST_CASE("a second program attaching to the same TAP is told it is busy") {
    in_namespaces([](Probe& p) {
      auto first = open_tap(p, {.name = "ustk1"});
      if (!first) return;
      expect_error(p, {.name = "ustk1"}, TapErrorKind::Busy, "ustk1 is busy: another program is attached");
    });
  }

  TEST_CASE("a TUN device of that name, or a non-tun interface, is refused as not a TAP") {
    in_namespaces([](Probe& p) {
      if (!sh(p, "ip tuntap add dev tun7 mode tun")) return;
      expect_error(p, {.name = "tun7"}, TapErrorKind::NotTap, "tun7 is a TUN device");
      expect_error(p, {.name = "lo"}, TapErrorKind::NotTap, "lo exists but is not a TAP device");
    });
  }

  TEST_CASE("a missing device is 'does not exist', with the command that creates it") {
    in_namespaces([](Probe& p) {
      // As root but told not to create.
      expect_error(p, {.name = "tap0", .create = false}, TapErrorKind::NoSuchDevice,
                   "tap0 does not exist: run 'sudo tools/sandbox up' (creates tap0 owned by you) or "
                   "'sudo ip tuntap add dev tap0 mode tap user $USER'");
      expect_error(p, {.name = "nosuch0", .create = false}, TapErrorKind::NoSuchDevice,
                   "nosuch0 does not exist: run 'sudo USTACK_TAP=nosuch0 tools/sandbox up'");
      // Unprivileged, where TUNSETIFF says EPERM for "absent" too: the name is checked first.
      if (!private_dev_net(p, true, 0666)) return;
      become_nobody(p);
      expect_error(p, {.name = "nosuch0"}, TapErrorKind::NoSuchDevice,
                   "nosuch0 does not exist and creating it needs CAP_NET_ADMIN");
      expect_error(p, {.name = "nosuch0"}, TapErrorKind::NoSuchDevice, "sudo ip tuntap add dev nosuch0 mode tap user $USER");
    });
  }

  TEST_CASE("another user's TAP is 'no permission', and a TAP made for us opens unprivileged") {
    in_namespaces([](Probe& p) {
      if (!sh(p, "ip tuntap add dev roottap mode tap user 0") || !sh(p, "ip tuntap add dev mytap mode tap user 65534")) return;
      if (!private_dev_net(p, true, 0666)) return;
      become_nobody(p);
      expect_error(p, {.name = "roottap"}, TapErrorKind::PermissionDenied, "no permission to attach to roottap: run");
      auto mine = open_tap(p, {.name = "mytap"});
      p.check(mine && !mine->created(), "uid 65534 attaches to the TAP created with 'user 65534'");
    });
  }

  TEST_CASE("/dev/net/tun missing or not ours says what to do") {
    in_namespaces([](Probe& p) {
      if (!private_dev_net(p, false, 0)) return;
      expect_error(p, {.name = "tap0"}, TapErrorKind::NoTunDevice, "/dev/net/tun is missing: load the tun module");
    });
    in_namespaces([](Probe& p) {
      if (!private_dev_net(p, true, 0600)) return;
      become_nobody(p);
      expect_error(p, {.name = "tap0"}, TapErrorKind::PermissionDenied, "sudo chmod 0666 /dev/net/tun");
    });
  }

  TEST_CASE("a bad interface name is refused before touching the kernel") {
    auto r = TapDevice::open({.name = "a-name-longer-than-15"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == TapErrorKind::Other);
  }

  TEST_CASE("complete_checksum fills in a partial UDP checksum from the pseudo-header sum") {
    stack::Bytes f = partial_udp_hello();
    CHECK_FALSE(test::udp_checksum_valid(f));
    REQUIRE(drivers::linux_net::complete_checksum(f, 34, 6));
    CHECK(test::udp_checksum_valid(f));
    // Offsets that point past the frame are refused and leave it alone.
    const stack::Bytes before = f;
    CHECK_FALSE(drivers::linux_net::complete_checksum(f, 34, 12));
    CHECK_FALSE(drivers::linux_net::complete_checksum(f, 200, 6));
    CHECK(f == before);
  }

  TEST_CASE("the kernel vouches for a checksum with NEEDS_CSUM (completed here) or DATA_VALID, never without a flag") {
    stack::Bytes f = partial_udp_hello();
    const stack::Bytes before = f;
    std::array<std::byte, 10> hdr{};
    auto r = drivers::linux_net::apply_vnet_header(hdr, f);
    CHECK(r.ok);
    CHECK_FALSE(r.checksum_vouched);  // no flag: the stack must sum the bytes itself
    hdr[0] = std::byte{2};            // VIRTIO_NET_HDR_F_DATA_VALID: verified by the kernel
    r = drivers::linux_net::apply_vnet_header(hdr, f);
    CHECK(r.checksum_vouched);
    CHECK_FALSE(r.checksum_completed);
    CHECK(f == before);  // nothing to complete
    hdr[0] = std::byte{1};  // VIRTIO_NET_HDR_F_NEEDS_CSUM, csum_start 34, csum_offset 6
    hdr[6] = std::byte{34};
    hdr[8] = std::byte{6};
    stack::Bytes trusted = f;
    r = drivers::linux_net::apply_vnet_header(hdr, trusted, false);  // nothing above reads the field
    CHECK(r.checksum_trusted);
    CHECK_FALSE(r.checksum_completed);
    CHECK(r.checksum_vouched);
    CHECK(trusted == before);  // left partial
    hdr[6] = std::byte{200};   // csum_start past the frame: dropped in either mode
    CHECK_FALSE(drivers::linux_net::apply_vnet_header(hdr, trusted, false).ok);
    hdr[6] = std::byte{34};
    r = drivers::linux_net::apply_vnet_header(hdr, f);
    CHECK(r.checksum_completed);
    CHECK(r.checksum_vouched);
  }

  TEST_CASE("a frame longer than the receive buffer is dropped and counted, never handed up cut") {
    for (const bool vnet : {false, true}) {
      in_namespaces([vnet](Probe& p) {
        const std::string name = vnet ? "cut1" : "cut0";
        auto tap = open_tap(p, {.name = name, .vnet_hdr = vnet});
        if (!tap || !kernel_side_up(p, name)) return;
        const auto stat = [&](const std::string& which) {
          for (const auto& [n, value] : tap->stats()) {
            if (n == which) return value;
          }
          p.fail("no counter " + which);
          return std::uint64_t{0};
        };
        // The kernel's ARP reply is 42 bytes; a 30-byte buffer cannot hold it.
        if (!tap->transmit(Instant{}, test::arp_request(test::kOurMac, test::kOurIp, test::kKernelIp))) {
          p.fail("transmit of the ARP request failed");
          return;
        }
        std::array<std::byte, 30> small{};
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (stat("rx_dropped_too_big") == 0 && std::chrono::steady_clock::now() < deadline) {
          if (auto n = tap->receive(Instant{}, small)) {
            p.fail("receive() handed up " + std::to_string(*n) + " bytes into a 30-byte buffer");
            return;
          }
          struct pollfd pfd{tap->readable_fd(), POLLIN, 0};
          ::poll(&pfd, 1, 100);
        }
        const std::string mode = vnet ? "vnet_hdr: " : "no vnet_hdr: ";
        p.check(stat("rx_dropped_too_big") >= 1, mode + "rx_dropped_too_big counted");
        p.check(stat("rx_frames") == 0, mode + "no frame counted as received");
        // The next reply, into a buffer of max_frame, arrives whole.
        p.check(arp_kernel(p, *tap).has_value(), mode + "the next ARP reply arrives whole");
        p.info(mode + "rx_dropped_too_big " + std::to_string(stat("rx_dropped_too_big")) + ", rx_frames " +
               std::to_string(stat("rx_frames")));
      });
    }
  }

  TEST_CASE("with vnet_hdr, frames go both ways and the kernel's partial UDP checksums arrive completed") {
    in_namespaces([](Probe& p) {
      auto tap = open_tap(p, {.name = "vnet0", .vnet_hdr = true});
      if (!tap) return;
      const auto caps = tap->capabilities();
      p.check(caps.rx_gso && caps.max_frame == TapDevice::kMaxGsoFrame, "capabilities: " + drivers::describe(caps));
      if (!kernel_side_up(p, "vnet0")) return;
      if (!arp_kernel(p, *tap)) return;  // our zeroed header on tx, header stripped on rx

      // The kernel sends UDP to our address: on a TAP with TUN_F_CSUM it leaves the checksum to us.
      if (!sh(p, "ip neigh replace 10.99.0.2 lladdr 02:00:00:00:00:02 dev vnet0 nud permanent")) return;
      const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      struct sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(9);
      to.sin_addr.s_addr = htonl(test::kOurIp.value);
      const char msg[] = "hello over virtio-net";
      p.check(::sendto(s, msg, sizeof msg, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) == sizeof msg, "sendto");
      ::close(s);
      auto udp = await(*tap, 2000, [](std::span<const std::byte> f) {
        return f.size() >= 42 && stack::load_be16(f, 12) == 0x0800 && stack::load_u8(f, 23) == 17;
      });
      if (!udp) {
        p.fail("no UDP frame from the kernel");
        return;
      }
      p.check(test::udp_checksum_valid(*udp), "the UDP checksum of the received frame verifies");
      for (const auto& [name, value] : tap->stats()) {
        if (name == "rx_csum_completed") {
          p.check(value >= 1, "rx_csum_completed " + std::to_string(value));
          p.info("vnet_hdr: rx_csum_completed " + std::to_string(value));
        }
      }
    });
  }

  TEST_CASE("a multi-queue TAP: offloads on every queue, flows spread over the queues, a flow follows our answer") {
    in_namespaces([](Probe& p) {
      auto opened = TapDevice::open_queues({.name = "mq0", .vnet_hdr = true}, 2);
      if (!opened) {
        p.fail("open_queues: " + opened.error().message);
        return;
      }
      auto& qs = *opened;
      p.check(qs.size() == 2 && qs[0]->created() && !qs[1]->created(), "two queues, the first created the device");
      if (!kernel_side_up(p, "mq0")) return;
      if (!sh(p, "ip neigh replace 10.99.0.2 lladdr 02:00:00:00:00:02 dev mq0 nud permanent")) return;
      // 32 flows from the kernel (UDP from ports 41000..41031 to our port 9): the kernel picks each
      // one's queue by its hash, so both queues see some (all on one: odds 2^-31).
      std::vector<int> socks;
      auto send_from = [&](std::size_t i) {
        struct sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(9);
        to.sin_addr.s_addr = htonl(test::kOurIp.value);
        const char msg[] = "which queue";
        p.check(::sendto(socks[i], msg, sizeof msg, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) == sizeof msg,
                "sendto");
      };
      for (std::uint16_t i = 0; i < 32; ++i) {
        const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in from{};
        from.sin_family = AF_INET;
        from.sin_port = htons(static_cast<std::uint16_t>(41000 + i));
        from.sin_addr.s_addr = htonl(test::kKernelIp.value);
        p.check(::bind(s, reinterpret_cast<const sockaddr*>(&from), sizeof from) == 0, "bind");
        socks.push_back(s);
      }
      auto is_udp = [](std::span<const std::byte> f) {
        return f.size() >= 42 && stack::load_be16(f, 12) == 0x0800 && stack::load_u8(f, 23) == 17;
      };
      // Every queued UDP frame of both queues: source port -> queue; each checksum completed.
      auto collect = [&](std::size_t expect) {
        std::vector<int> queue_of(32, -1);
        std::size_t got = 0;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        while (got < expect && std::chrono::steady_clock::now() < deadline) {
          for (std::size_t q = 0; q < 2; ++q) {
            if (auto f = await(*qs[q], 20, is_udp)) {
              p.check(test::udp_checksum_valid(*f), "queue " + std::to_string(q) + ": the UDP checksum verifies");
              const int port = stack::load_be16(*f, 34) - 41000;
              if (port >= 0 && port < 32) queue_of[static_cast<std::size_t>(port)] = static_cast<int>(q);
              ++got;
            }
          }
        }
        p.check(got == expect, "received " + std::to_string(got) + " of " + std::to_string(expect) + " datagrams");
        return queue_of;
      };
      for (std::size_t i = 0; i < 32; ++i) send_from(i);
      const auto first = collect(32);
      const auto on = [&](int q) { return std::count(first.begin(), first.end(), q); };
      p.check(on(0) > 0 && on(1) > 0, "both queues receive flows: " + std::to_string(on(0)) + " and " +
                                          std::to_string(on(1)));
      p.info("multi-queue: 32 flows, " + std::to_string(on(0)) + " on queue 0 and " + std::to_string(on(1)) + " on queue 1");
      for (std::size_t q = 0; q < 2; ++q) {
        for (const auto& [name, value] : qs[q]->stats()) {
          if (name == "rx_csum_completed") {
            p.check(value >= 1, "queue " + std::to_string(q) + ": rx_csum_completed " + std::to_string(value));
          }
        }
      }
      // Answer one flow of each queue from the other queue: the kernel then sends that flow there.
      std::vector<std::size_t> moved;
      for (int q = 0; q < 2; ++q) {
        const auto it = std::find(first.begin(), first.end(), q);
        if (it == first.end()) return;
        const auto i = static_cast<std::size_t>(it - first.begin());
        stack::Bytes f;
        test::put_ethernet(f, stack::wire::MacAddress::broadcast(), test::kOurMac, 0x0800);  // an L2 broadcast: the kernel takes it
        test::put_ipv4(f, test::kOurIp, test::kKernelIp, 17, 8 + 4);
        stack::store_be16(f, 34, 9);
        stack::store_be16(f, 36, static_cast<std::uint16_t>(41000 + i));
        stack::store_be16(f, 38, 12);
        stack::store_be16(f, 40, 0);  // no UDP checksum (RFC 768: all zero, allowed over IPv4)
        p.check(qs[static_cast<std::size_t>(1 - q)]->transmit(Instant{}, f), "transmit the answer");
        moved.push_back(i);
      }
      for (std::size_t q = 0; q < 2; ++q) qs[q]->flush(Instant{});
      for (const std::size_t i : moved) send_from(i);
      const auto second = collect(2);
      for (const std::size_t i : moved) {
        p.check(second[i] == 1 - first[i], "flow from port " + std::to_string(41000 + i) + ": first on queue " +
                                               std::to_string(first[i]) + ", after our answer from queue " +
                                               std::to_string(1 - first[i]) + " on queue " + std::to_string(second[i]));
      }
      for (const int s : socks) ::close(s);
    });
  }

  TEST_CASE("a persistent TAP made without multi_queue refuses several queues, saying how to make one") {
    in_namespaces([](Probe& p) {
      if (!sh(p, "ip tuntap add dev sq0 mode tap")) return;
      auto r = TapDevice::open_queues({.name = "sq0", .create = false}, 2);
      if (r) {
        p.fail("open_queues on a single-queue TAP succeeded");
        return;
      }
      p.check(r.error().message.find("ip tuntap add dev sq0 mode tap multi_queue user") != std::string::npos,
              "message: " + r.error().message);
      // The other way round: one queue of a multi_queue TAP opens as a single-queue user.
      if (!sh(p, "ip tuntap add dev mq1 mode tap multi_queue")) return;
      auto one = open_tap(p, {.name = "mq1", .create = false});
      p.check(one != nullptr, "a single-queue open of a multi_queue TAP");
    });
  }

  TEST_CASE("with vnet_hdr, kernel TCP arrives as checksummed GSO super-frames larger than the MTU") {
    in_namespaces([](Probe& p) {
      auto tap = open_tap(p, {.name = "gso0", .vnet_hdr = true});
      if (!tap || !kernel_side_up(p, "gso0")) return;
      const auto kernel_mac = arp_kernel(p, *tap);
      if (!kernel_mac || !sh(p, "ip neigh replace 10.99.0.2 lladdr 02:00:00:00:00:02 dev gso0 nud permanent")) return;

      // The kernel connects to "us"; we play the peer by hand: SYN-ACK, then watch its first flight.
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
      auto syn = await(*tap, 2000, [&](std::span<const std::byte> f) {
        return is_tcp_to_us(f) && (stack::load_u8(f, 47) & 0x02) != 0;
      });
      if (!syn) {
        p.fail("no SYN from the kernel");
        ::close(s);
        return;
      }
      p.check(test::l4_checksum_valid(*syn), "SYN checksum verifies (completed by the driver)");
      const std::uint16_t kernel_port = stack::load_be16(*syn, 34);
      const std::uint32_t kernel_iss = stack::load_be32(*syn, 38);
      p.check(tap->transmit(Instant{}, test::tcp_segment(*kernel_mac, test::kOurMac, test::kOurIp, test::kKernelIp, 8080,
                                                         kernel_port, 5000, kernel_iss + 1, 0x12, 65535, 1460)),
              "transmit SYN-ACK");
      struct pollfd pfd{s, POLLOUT, 0};
      p.check(::poll(&pfd, 1, 2000) == 1 && (pfd.revents & POLLOUT), "kernel socket connected");
      std::vector<char> data(60000, 'x');
      p.check(::send(s, data.data(), data.size(), 0) > 0, "kernel send()");

      std::size_t largest = 0;
      std::size_t bytes = 0;
      bool all_valid = true;
      while (largest <= 1514) {
        auto seg = await(*tap, 1000, [&](std::span<const std::byte> f) { return is_tcp_to_us(f) && f.size() > 54; });
        if (!seg) break;
        largest = std::max(largest, seg->size());
        bytes += seg->size() - 54;
        all_valid = all_valid && test::l4_checksum_valid(*seg);
      }
      ::close(s);
      p.check(largest > 1514, "a super-frame larger than 1514 bytes arrived (largest " + std::to_string(largest) + ")");
      p.check(all_valid, "every data segment's TCP checksum verifies");
      std::uint64_t gso = 0;
      for (const auto& [name, value] : tap->stats()) {
        if (name == "rx_gso_frames") gso = value;
      }
      p.check(gso >= 1, "rx_gso_frames counted");
      p.info("vnet_hdr: largest kernel TCP frame " + std::to_string(largest) + " bytes, rx_gso_frames " +
             std::to_string(gso) + ", " + std::to_string(bytes) + " payload bytes seen");
    });
  }
}
