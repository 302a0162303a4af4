// TapDevice: see tap_device.hpp.
#include "drivers/tap_device.hpp"

#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "drivers/linux_net.hpp"

namespace {
constexpr int kLinkWaitSteps = 300;           // at most 1.5 s
constexpr unsigned kLinkWaitStepUs = 5000;
}  // namespace

namespace drivers {

using linux_net::Fd;
using linux_net::make_ifreq;

namespace {

// What kind of interface `name` is in our network namespace. Asked of the kernel through ioctls on
// a socket rather than read from /sys/class/net: sysfs shows the namespace of whoever mounted /sys,
// so after a bare `unshare -n` it describes the wrong namespace.
enum class Existing { None, Tap, Tun, NotTunTap };
Existing probe_interface(const std::string& name) {
  if (::if_nametoindex(name.c_str()) == 0) return Existing::None;
  // The tun driver answers ETHTOOL_GDRVINFO with driver "tun" and bus_info "tap" or "tun".
  Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.fd < 0) return Existing::Tap;  // cannot tell: let TUNSETIFF decide
  struct ethtool_drvinfo info;
  std::memset(&info, 0, sizeof info);
  info.cmd = ETHTOOL_GDRVINFO;
  struct ifreq ifr = make_ifreq(name);
  ifr.ifr_data = reinterpret_cast<char*>(&info);  // the ioctl's own calling convention, not packet bytes
  if (::ioctl(sock.fd, SIOCETHTOOL, &ifr) < 0) return Existing::NotTunTap;
  if (std::strncmp(info.driver, "tun", sizeof info.driver) != 0) return Existing::NotTunTap;
  if (std::strncmp(info.bus_info, "tun", sizeof info.bus_info) == 0) return Existing::Tun;
  return Existing::Tap;
}

// The command that makes a persistent multi-queue TAP (ip-tuntap(8)).
std::string multi_queue_hint(const std::string& name) {
  return "'sudo ip link del " + name + "' and 'sudo ip tuntap add dev " + name + " mode tap multi_queue user $USER'";
}

// tools/sandbox makes tap0 unless USTACK_TAP names another device.
std::string create_hint(const std::string& name) {
  const std::string sandbox = name == "tap0" ? "sudo tools/sandbox up" : "sudo USTACK_TAP=" + name + " tools/sandbox up";
  return "run '" + sandbox + "' (creates " + name + " owned by you) or 'sudo ip tuntap add dev " + name +
         " mode tap user $USER'";
}

stack::Err<TapError> error(TapErrorKind kind, std::string message) { return {TapError{kind, std::move(message)}}; }

}  // namespace

const char* to_string(TapErrorKind kind) {
  switch (kind) {
    case TapErrorKind::NoTunDevice: return "no-tun-device";
    case TapErrorKind::NoSuchDevice: return "no-such-device";
    case TapErrorKind::NotTap: return "not-tap";
    case TapErrorKind::Busy: return "busy";
    case TapErrorKind::PermissionDenied: return "permission-denied";
    case TapErrorKind::Other: return "other";
  }
  return "?";
}

stack::Result<std::unique_ptr<TapDevice>, TapError> TapDevice::open(const TapOptions& options) {
  const std::string& name = options.name;
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return error(TapErrorKind::Other, "bad interface name '" + name + "': 1 to " + std::to_string(IFNAMSIZ - 1) +
                                          " characters (e.g. --tap tap0)");
  }

  Fd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (fd.fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENODEV || err == ENXIO) {
      return error(TapErrorKind::NoTunDevice, "/dev/net/tun is missing: load the tun module (sudo modprobe tun)");
    }
    if (err == EACCES || err == EPERM) {
      // 0666 is the usual mode and safe: attaching to a TAP is still checked per device (owner).
      return error(TapErrorKind::PermissionDenied,
                   "no permission to open /dev/net/tun: make it usable ('sudo chmod 0666 /dev/net/tun'; each TAP "
                   "still checks its owner) or run as root");
    }
    return error(TapErrorKind::Other, std::string("cannot open /dev/net/tun: ") + std::strerror(err));
  }

  // Look before TUNSETIFF: without CAP_NET_ADMIN the kernel answers EPERM both for "absent" and
  // for "owned by someone else", and for a TUN of that name it only says EINVAL.
  const bool is_pattern = name.find('%') != std::string::npos;
  const Existing existing = is_pattern ? Existing::None : probe_interface(name);
  switch (existing) {
    case Existing::Tun:
      return error(TapErrorKind::NotTap, name + " is a TUN device (IP packets), not a TAP (Ethernet frames): delete it "
                                                "('sudo ip link del " + name + "') and " + create_hint(name));
    case Existing::NotTunTap:
      return error(TapErrorKind::NotTap, name + " exists but is not a TAP device (another kind of interface): "
                                                "pick a TAP with --tap, or " + create_hint("tap0"));
    case Existing::None:
      if (!options.create) return error(TapErrorKind::NoSuchDevice, name + " does not exist: " + create_hint(name));
      break;
    case Existing::Tap:
      break;
  }

  struct ifreq ifr = make_ifreq(name);
  // IFF_NO_PI: without it every frame carries a 4-byte packet-information prefix.
  ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | (options.vnet_hdr ? IFF_VNET_HDR : 0) |
                                     (options.multi_queue ? IFF_MULTI_QUEUE : 0));
  int rc = ::ioctl(fd.fd, TUNSETIFF, &ifr);
  if (rc < 0 && errno == EINVAL && existing == Existing::Tap && !options.multi_queue) {
    // A persistent TAP made with multi_queue takes only IFF_MULTI_QUEUE attachments: one queue of
    // it serves a single-queue user just as well (all its traffic comes to the one queue attached).
    ifr = make_ifreq(name);
    ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | (options.vnet_hdr ? IFF_VNET_HDR : 0) | IFF_MULTI_QUEUE);
    rc = ::ioctl(fd.fd, TUNSETIFF, &ifr);
  }
  if (rc < 0) {
    const int err = errno;
    if (err == EPERM && existing == Existing::None) {
      return error(TapErrorKind::NoSuchDevice,
                   name + " does not exist and creating it needs CAP_NET_ADMIN: " + create_hint(name));
    }
    if (err == EPERM) {
      return error(TapErrorKind::PermissionDenied, "no permission to attach to " + name + ": " + create_hint(name));
    }
    if (err == EBUSY) {
      return error(TapErrorKind::Busy, name + " is busy: another program is attached (IFF_MULTI_QUEUE off); "
                                              "stop it or use another device");
    }
    // tun_set_iff() refuses an existing TAP whose IFF_MULTI_QUEUE differs from ours (EINVAL).
    if (err == EINVAL && existing == Existing::Tap && options.multi_queue) {
      return error(TapErrorKind::NotTap, name + " was made without multi_queue, which several queues need: recreate "
                                                "it with " + multi_queue_hint(name));
    }
    if (err == EINVAL) {
      return error(TapErrorKind::NotTap, "the kernel refused " + name + " as a TAP (EINVAL): it exists with other "
                                         "flags or is another kind of interface; " + create_hint(name));
    }
    return error(TapErrorKind::Other, "cannot attach to " + name + ": TUNSETIFF: " + std::strerror(err));
  }
  const std::string actual(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ));

  if (options.vnet_hdr) {
    int hdr_len = static_cast<int>(kVnetHdrLen);
    if (::ioctl(fd.fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
      return error(TapErrorKind::Other, "cannot set the virtio-net header size on " + actual + ": " +
                                            std::strerror(errno) + " (run with --no-offload)");
    }
    // What we can take from the kernel: partial checksums (we complete them) and TCPv4 super-frames.
    const unsigned offload = TUN_F_CSUM | TUN_F_TSO4;
    if (::ioctl(fd.fd, TUNSETOFFLOAD, offload) < 0) {
      return error(TapErrorKind::Other, "cannot enable offloads on " + actual + ": " + std::strerror(errno) +
                                            " (run with --no-offload)");
    }
  } else {
    // Offload settings belong to the device, not to the descriptor: a persistent TAP keeps the
    // TUN_F_CSUM | TUN_F_TSO4 an earlier (offloading) user set, and the kernel would go on sending
    // super-frames and partial checksums to a reader that has no header to learn about them. Clear
    // them: without a vnet header every frame must be wire-sized with complete checksums.
    if (::ioctl(fd.fd, TUNSETOFFLOAD, 0u) < 0) {
      return error(TapErrorKind::Other, "cannot clear the offloads of " + actual + ": " + std::strerror(errno));
    }
  }

  // The MTU lives on the interface, not on the tun descriptor: ask through an AF_INET datagram
  // socket, which here is only an ioctl handle and never sends anything.
  std::size_t mtu = 1500;
  std::uint64_t link_wait_ms = 0;
  {
    Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    struct ifreq mreq = make_ifreq(actual);
    if (sock.fd >= 0 && ::ioctl(sock.fd, SIOCGIFMTU, &mreq) == 0 && mreq.ifr_mtu > 0) {
      mtu = static_cast<std::size_t>(mreq.ifr_mtu);
    }
    // Attaching turns the TAP's carrier on, but the kernel activates the device (its queueing
    // discipline, operstate) later, from its link-watch work — up to a second later when link
    // events come in quick succession, as when programs run back to back. Until then whatever the
    // kernel sends us, such as its ARP reply to our first request, is dropped, and our first
    // connection waits out an ARP retry (1 s; seen as "connect 1002 ms" on back-to-back runs).
    // So wait, bounded, for IFF_RUNNING (operstate up), if the interface is administratively up
    // at all. The wait is in --stats (link_wait_ms); usually 0-5 ms.
    if (sock.fd >= 0) {
      for (int i = 0; i < kLinkWaitSteps; ++i) {
        struct ifreq freq = make_ifreq(actual);
        if (::ioctl(sock.fd, SIOCGIFFLAGS, &freq) < 0 || !(freq.ifr_flags & IFF_UP) || (freq.ifr_flags & IFF_RUNNING)) break;
        ::usleep(kLinkWaitStepUs);
        link_wait_ms = static_cast<std::uint64_t>(i + 1) * kLinkWaitStepUs / 1000;
      }
    }
  }
  auto dev = std::unique_ptr<TapDevice>(
      new TapDevice(fd.release(), actual, mtu, existing == Existing::None, options.vnet_hdr));
  dev->counters_.link_wait_ms = link_wait_ms;
  return dev;
}

stack::Result<std::vector<std::unique_ptr<TapDevice>>, TapError> TapDevice::open_queues(TapOptions options,
                                                                                       std::size_t queues) {
  if (queues == 0 || queues > kMaxQueues) {
    return error(TapErrorKind::Other, "bad number of queues " + std::to_string(queues) + ": 1 to " +
                                          std::to_string(kMaxQueues));
  }
  options.multi_queue = true;
  std::vector<std::unique_ptr<TapDevice>> out;
  for (std::size_t q = 0; q < queues; ++q) {
    auto dev = open(options);
    if (!dev) return stack::Err<TapError>{std::move(dev.error())};
    // The first queue may have created the device: the others attach to it.
    options.create = false;
    if (!options.name.empty() && options.name.find('%') != std::string::npos) options.name = (*dev)->name();
    out.push_back(std::move(*dev));
  }
  return out;
}

FdDevice::RawRead TapDevice::read_frame(FrameIov& io) {
  // One read() is one frame (tuntap.rst). tun's read() returns only what it copied, never more
  // than the buffers hold: a frame too long for the frame buffer shows as a filled spill byte.
  return {::readv(fd(), io.iov(), static_cast<int>(io.iovlen()))};
}

ssize_t TapDevice::write_frame(FrameIov& io) { return ::writev(fd(), io.iov(), static_cast<int>(io.iovlen())); }

void TapDevice::count_tx_drop(int) { ++counters_.tx_dropped_error; }

Stats TapDevice::stats() const {
  return {
      {"rx_frames", rx_.frames},
      {"tx_frames", tx_frames_},
      {"tx_gso_frames", tx_gso_.frames},
      {"tx_gso_segments", tx_gso_.segments},
      {"rx_dropped_too_big", rx_.dropped_too_big},
      {"rx_dropped_bad_vnet_hdr", rx_.dropped_bad_vnet_hdr},
      {"rx_errors", rx_.errors},
      {"rx_csum_completed", rx_.csum_completed},
      {"rx_csum_trusted", rx_.csum_trusted},
      {"rx_gso_frames", rx_.gso_frames},
      {"tx_held", tx_backlog_.held},
      {"tx_dropped_backlog_full", tx_backlog_.dropped_full},
      {"tx_backlog_max", tx_backlog_.max_frames},
      {"tx_dropped_error", counters_.tx_dropped_error},
      {"link_wait_ms", counters_.link_wait_ms},
  };
}

}  // namespace drivers
