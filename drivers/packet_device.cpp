// PacketDevice: see packet_device.hpp.
#include "drivers/packet_device.hpp"

// <net/if.h> before any <linux/...> header: glibc's and the kernel's struct ifreq then coexist.
#include <net/if.h>
#include <net/if_arp.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "drivers/linux_net.hpp"

namespace drivers {

using linux_net::Fd;
using linux_net::make_ifreq;

namespace {

// The program to name in the setcap hint.
std::string self_path() {
  std::array<char, PATH_MAX> buf{};
  const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  return n > 0 ? std::string(buf.data(), static_cast<std::size_t>(n)) : std::string("PROGRAM");
}

stack::Err<PacketError> error(PacketErrorKind kind, std::string message) {
  return {PacketError{kind, std::move(message)}};
}

}  // namespace

const char* to_string(PacketErrorKind kind) {
  switch (kind) {
    case PacketErrorKind::BadName: return "bad-name";
    case PacketErrorKind::NoSuchDevice: return "no-such-device";
    case PacketErrorKind::NotEthernet: return "not-ethernet";
    case PacketErrorKind::InterfaceDown: return "interface-down";
    case PacketErrorKind::PermissionDenied: return "permission-denied";
    case PacketErrorKind::Other: return "other";
  }
  return "?";
}

PacketRxVerdict classify_packet_type(std::uint8_t sll_pkttype) {
  // packet(7): PACKET_HOST (to the kernel's MAC), PACKET_BROADCAST, PACKET_MULTICAST,
  // PACKET_OTHERHOST (to another MAC: ours, in promiscuous mode) came in from the wire;
  // PACKET_OUTGOING is a copy of a frame sent on the interface (by us, or by the kernel).
  return sll_pkttype == PACKET_OUTGOING ? PacketRxVerdict::DropOutgoing : PacketRxVerdict::Accept;
}

stack::Result<std::unique_ptr<PacketDevice>, PacketError> PacketDevice::open(const PacketOptions& options) {
  const std::string& name = options.name;
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos) {
    return error(PacketErrorKind::BadName, "bad interface name '" + name + "': 1 to " + std::to_string(IFNAMSIZ - 1) +
                                               " characters (e.g. --iface veth0)");
  }
  // Everything that needs no privilege first, so an unprivileged typo gets the real answer.
  const unsigned ifindex = ::if_nametoindex(name.c_str());
  if (ifindex == 0) {
    return error(PacketErrorKind::NoSuchDevice, "no interface named " + name +
                                                    " in this network namespace (see 'ip link'; --iface takes an "
                                                    "existing interface, --tap a TAP device)");
  }
  // An AF_INET datagram socket is only an ioctl handle here (netdevice(7)); it never sends.
  Fd ctl(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (ctl.fd < 0) return error(PacketErrorKind::Other, std::string("cannot query ") + name + ": " + std::strerror(errno));
  struct ifreq ifr = make_ifreq(name);
  if (::ioctl(ctl.fd, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    return error(PacketErrorKind::NotEthernet, name + " is not an Ethernet interface (ARPHRD " +
                                                   std::to_string(ifr.ifr_hwaddr.sa_family) +
                                                   "): --iface needs a veth or a NIC; for a TAP use --tap");
  }
  ifr = make_ifreq(name);
  if (::ioctl(ctl.fd, SIOCGIFFLAGS, &ifr) != 0) {
    return error(PacketErrorKind::Other, "cannot read the flags of " + name + ": " + std::strerror(errno));
  }
  if ((ifr.ifr_flags & IFF_UP) == 0) {
    return error(PacketErrorKind::InterfaceDown, name + " is down: bring it up first ('sudo ip link set " + name + " up')");
  }
  std::size_t mtu = 1500;
  ifr = make_ifreq(name);
  if (::ioctl(ctl.fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0) mtu = static_cast<std::size_t>(ifr.ifr_mtu);

  // Protocol 0: the socket receives nothing until bind() names the interface, so no frame of
  // another interface slips into the queue in between (packet(7)).
  Fd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.fd < 0) {
    const int err = errno;
    if (err == EPERM || err == EACCES) {
      return error(PacketErrorKind::PermissionDenied,
                   "no permission to open an AF_PACKET socket on " + name + " (needs CAP_NET_RAW): try: sudo, or "
                   "'sudo setcap cap_net_raw+ep " + self_path() + "'");
    }
    if (err == EAFNOSUPPORT) {
      return error(PacketErrorKind::Other, "AF_PACKET is not available in this kernel (CONFIG_PACKET): use --tap");
    }
    return error(PacketErrorKind::Other, "cannot open an AF_PACKET socket: " + std::string(std::strerror(err)));
  }
  const int one = 1;
  if (options.vnet_hdr && ::setsockopt(fd.fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) {
    return error(PacketErrorKind::Other, "cannot enable PACKET_VNET_HDR on " + name + ": " + std::strerror(errno));
  }
  // Linux 4.20+; older kernels answer ENOPROTOOPT and receive() filters by sll_pkttype instead.
  const bool ignore_outgoing = options.kernel_ignore_outgoing &&
                               ::setsockopt(fd.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) == 0;

  struct sockaddr_ll sll;
  std::memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(ifindex);
  // bind()'s own calling convention (a sockaddr_ll passed as a sockaddr), not packet bytes.
  if (::bind(fd.fd, reinterpret_cast<const struct sockaddr*>(&sll), sizeof sll) != 0) {
    const int err = errno;
    if (err == ENODEV) return error(PacketErrorKind::NoSuchDevice, name + " disappeared while opening it");
    if (err == ENETDOWN) {
      return error(PacketErrorKind::InterfaceDown, name + " is down: bring it up first ('sudo ip link set " + name + " up')");
    }
    return error(PacketErrorKind::Other, "cannot bind to " + name + ": " + std::strerror(err));
  }
  if (options.promiscuous) {
    // A membership, not IFF_PROMISC: counted by the kernel and dropped when the socket closes,
    // so a crash never leaves the interface promiscuous.
    struct packet_mreq mreq;
    std::memset(&mreq, 0, sizeof mreq);
    mreq.mr_ifindex = static_cast<int>(ifindex);
    mreq.mr_type = PACKET_MR_PROMISC;
    if (::setsockopt(fd.fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
      return error(PacketErrorKind::Other, "cannot put " + name + " in promiscuous mode: " + std::strerror(errno));
    }
  }
  return std::unique_ptr<PacketDevice>(
      new PacketDevice(fd.release(), name, static_cast<int>(ifindex), mtu, options.vnet_hdr, ignore_outgoing));
}

FdDevice::RawRead PacketDevice::read_frame(FrameIov& io) {
  struct sockaddr_ll from;  // filled in by recvmsg(): sll_pkttype says where the frame came from
  std::memset(&from, 0, sizeof from);
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = io.iov();
  msg.msg_iovlen = io.iovlen();
  // MSG_TRUNC: the return value is the frame's real length even when it did not fit (packet(7)),
  // which is how FdDevice::receive() tells a cut frame.
  const ssize_t n = ::recvmsg(fd(), &msg, MSG_TRUNC | MSG_DONTWAIT);
  if (n >= 0 && classify_packet_type(from.sll_pkttype) == PacketRxVerdict::DropOutgoing) {
    ++counters_.rx_dropped_outgoing;
    return {n, true};
  }
  return {n};
}

ssize_t PacketDevice::write_frame(FrameIov& io) {
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);  // no msg_name: the interface and protocol bind() gave
  msg.msg_iov = io.iov();
  msg.msg_iovlen = io.iovlen();
  return ::sendmsg(fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void PacketDevice::count_tx_drop(int err) {
  if (err == ENETDOWN || err == ENXIO) {
    ++counters_.tx_dropped_down;
  } else {
    ++counters_.tx_dropped_error;
  }
}

Stats PacketDevice::stats() const {
  // PACKET_STATISTICS reads and resets the kernel's counters: accumulate.
  struct tpacket_stats st;
  std::memset(&st, 0, sizeof st);
  socklen_t len = sizeof st;
  if (::getsockopt(fd(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) counters_.rx_kernel_drops += st.tp_drops;
  return {
      {"rx_frames", rx_.frames},
      {"tx_frames", tx_frames_},
      {"tx_gso_frames", tx_gso_.frames},
      {"tx_gso_segments", tx_gso_.segments},
      {"rx_dropped_outgoing", counters_.rx_dropped_outgoing},
      {"rx_dropped_too_big", rx_.dropped_too_big},
      {"rx_dropped_bad_vnet_hdr", rx_.dropped_bad_vnet_hdr},
      {"rx_errors", rx_.errors},
      {"rx_csum_completed", rx_.csum_completed},
      {"rx_gso_frames", rx_.gso_frames},
      {"rx_kernel_drops", counters_.rx_kernel_drops},
      {"tx_held", tx_backlog_.held},
      {"tx_dropped_backlog_full", tx_backlog_.dropped_full},
      {"tx_backlog_max", tx_backlog_.max_frames},
      {"tx_dropped_down", counters_.tx_dropped_down},
      {"tx_dropped_error", counters_.tx_dropped_error},
  };
}

}  // namespace drivers
