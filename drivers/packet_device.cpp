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

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <utility>

#include "drivers/linux_net.hpp"
#include "stack/util/bytes.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ip_address.hpp"

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
  // A receive queue for bursts of super-frames. The default (net.core.rmem_default, 208 KiB on
  // most systems) holds about three 64 KiB super-frames; the kernel drops what does not fit
  // (rx_kernel_drops) and the peer's TCP has to send it again. SO_RCVBUFFORCE (CAP_NET_ADMIN, as
  // root has) may pass net.core.rmem_max; without it, SO_RCVBUF gets what rmem_max allows
  // (socket(7)). The kernel doubles the value for its bookkeeping.
  constexpr int kRcvBuf = 4 << 20;
  if (::setsockopt(fd.fd, SOL_SOCKET, SO_RCVBUFFORCE, &kRcvBuf, sizeof kRcvBuf) != 0) {
    (void)::setsockopt(fd.fd, SOL_SOCKET, SO_RCVBUF, &kRcvBuf, sizeof kRcvBuf);
  }
  const int one = 1;
  if (options.vnet_hdr && ::setsockopt(fd.fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) {
    return error(PacketErrorKind::Other, "cannot enable PACKET_VNET_HDR on " + name + ": " + std::strerror(errno));
  }
  // Without the virtio-net header, the only word on partial checksums (see packet_device.hpp).
  if (!options.vnet_hdr && ::setsockopt(fd.fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) != 0) {
    return error(PacketErrorKind::Other, "cannot enable PACKET_AUXDATA on " + name + ": " + std::strerror(errno));
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

namespace {

constexpr std::size_t kEth = 14;
constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpCwr = 0x80;

// The IPv4 and L4 header offsets of an Ethernet/IPv4 frame that is whole (total length within
// the frame) and not a fragment; nullopt otherwise.
struct Ipv4Frame {
  std::size_t l4;
  std::size_t total;  // kEth + the IPv4 total length
  std::uint8_t protocol;
};
std::optional<Ipv4Frame> ipv4_frame(std::span<const std::byte> f) {
  if (f.size() < kEth + 20 || stack::load_be16(f, 12) != kEtherIpv4) return std::nullopt;
  const std::uint8_t vihl = stack::load_u8(f, kEth);
  const std::size_t ihl = std::size_t{vihl & 0x0fu} * 4;
  const std::size_t total = kEth + stack::load_be16(f, kEth + 2);
  if ((vihl >> 4) != 4 || ihl < 20 || total < kEth + ihl || total > f.size()) return std::nullopt;
  if ((stack::load_be16(f, kEth + 6) & 0x3fff) != 0) return std::nullopt;  // MF or an offset: a fragment
  return Ipv4Frame{kEth + ihl, total, stack::load_u8(f, kEth + 9)};
}

// Completes the partial TCP or UDP checksum of an IPv4 frame (the field holds the pseudo-header
// sum, CHECKSUM_PARTIAL): the field is at 16 (TCP) or 6 (UDP) from the L4 header.
bool complete_partial(std::span<std::byte> f) {
  const auto ip = ipv4_frame(f);
  if (!ip) return false;
  std::size_t offset = 0;
  if (ip->protocol == static_cast<std::uint8_t>(stack::wire::IpProtocol::Tcp)) {
    offset = 16;
  } else if (ip->protocol == static_cast<std::uint8_t>(stack::wire::IpProtocol::Udp)) {
    offset = 6;
  } else {
    return false;
  }
  const auto frame = f.first(ip->total);
  if (!linux_net::complete_checksum(frame, static_cast<std::uint16_t>(ip->l4), static_cast<std::uint16_t>(offset))) {
    return false;
  }
  // UDP: a computed 0 is sent as all ones (RFC 768); 0 would mean "no checksum".
  if (offset == 6 && stack::load_be16(frame, ip->l4 + 6) == 0) stack::store_be16(frame, ip->l4 + 6, 0xffff);
  return true;
}

}  // namespace

bool SuperFrameCutter::load(std::span<const std::byte> frame, std::size_t mtu) {
  next_ = payload_len_ = 0;
  const auto ip = ipv4_frame(frame);
  if (!ip || ip->protocol != static_cast<std::uint8_t>(stack::wire::IpProtocol::Tcp)) return false;
  const std::size_t l4 = ip->l4;
  if (ip->total < l4 + 20) return false;
  const std::size_t thl = static_cast<std::size_t>(stack::load_u8(frame, l4 + 12) >> 4) * 4;
  if (thl < 20 || ip->total < l4 + thl) return false;
  const std::size_t headers = l4 - kEth + thl;
  if (mtu <= headers) return false;
  frame_.assign(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(ip->total));
  l4_ = l4;
  payload_ = l4 + thl;
  payload_len_ = ip->total - payload_;
  piece_ = mtu - headers;
  ident_ = stack::load_be16(frame_, kEth + 4);
  index_ = 0;
  return payload_len_ > 0;
}

std::size_t SuperFrameCutter::next(std::span<std::byte> out) {
  if (!pending()) return 0;
  const std::size_t len = std::min(piece_, payload_len_ - next_);
  const std::size_t size = payload_ + len;
  if (out.size() < size) return 0;
  const bool first = next_ == 0;
  const bool last = next_ + len == payload_len_;
  std::copy_n(frame_.begin(), payload_, out.begin());
  std::copy_n(frame_.begin() + static_cast<std::ptrdiff_t>(payload_ + next_), len, out.begin() + static_cast<std::ptrdiff_t>(payload_));
  const auto f = out.first(size);
  // IPv4: total length, identification, header checksum.
  stack::store_be16(f, kEth + 2, static_cast<std::uint16_t>(size - kEth));
  stack::store_be16(f, kEth + 4, static_cast<std::uint16_t>(ident_ + index_));
  stack::store_be16(f, kEth + 10, 0);
  stack::store_be16(f, kEth + 10, stack::wire::internet_checksum(f.subspan(kEth, l4_ - kEth)));
  // TCP: sequence number, flags, checksum over the pseudo-header and the piece.
  const std::uint32_t seq = stack::load_be32(frame_, l4_ + 4) + static_cast<std::uint32_t>(next_);
  stack::store_be32(f, l4_ + 4, seq);
  std::uint8_t flags = stack::load_u8(f, l4_ + 13);
  if (!first) flags = static_cast<std::uint8_t>(flags & ~kTcpCwr);
  if (!last) flags = static_cast<std::uint8_t>(flags & ~(kTcpFin | kTcpPsh));
  stack::store_u8(f, l4_ + 13, flags);
  stack::store_be16(f, l4_ + 16, 0);
  stack::wire::ChecksumAccumulator sum;
  sum.add_pseudo_header(stack::wire::load_ipv4(f, kEth + 12), stack::wire::load_ipv4(f, kEth + 16),
                        stack::wire::IpProtocol::Tcp, static_cast<std::uint16_t>(size - l4_));
  sum.add(f.subspan(l4_));
  stack::store_be16(f, l4_ + 16, sum.finish());
  next_ += len;
  ++index_;
  return size;
}

FdDevice::RawRead PacketDevice::read_frame(FrameIov& io) {
  if (!vnet_hdr()) return read_plain(io);
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

FdDevice::RawRead PacketDevice::read_plain(FrameIov& io) {
  // Without a header the scatter list is {frame, spill byte} (FdDevice::FrameIov).
  const std::span<std::byte> out(static_cast<std::byte*>(io.iov()[0].iov_base), io.iov()[0].iov_len);
  if (cutter_.pending()) {
    const std::size_t n = cutter_.next(out);
    if (n == 0) {
      cutter_.drop();
      ++rx_.dropped_too_big;
      return {0, true};
    }
    return {static_cast<ssize_t>(n)};
  }
  // What does not fit the caller's buffer runs on into overflow_ (a super-frame, up to 64 KiB).
  std::array<struct iovec, 2> iov{{{out.data(), out.size()}, {overflow_.data(), overflow_.size()}}};
  struct sockaddr_ll from;
  std::memset(&from, 0, sizeof from);
  // The control buffer for one struct tpacket_auxdata (cmsg(3)), aligned for struct cmsghdr.
  alignas(struct cmsghdr) std::array<char, CMSG_SPACE(sizeof(struct tpacket_auxdata))> control{};
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  const ssize_t n = ::recvmsg(fd(), &msg, MSG_TRUNC | MSG_DONTWAIT);
  if (n < 0) return {n};
  if (classify_packet_type(from.sll_pkttype) == PacketRxVerdict::DropOutgoing) {
    ++counters_.rx_dropped_outgoing;
    return {n, true};
  }
  std::uint32_t status = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA &&
        c->cmsg_len >= CMSG_LEN(sizeof(struct tpacket_auxdata))) {
      struct tpacket_auxdata aux;
      std::memcpy(&aux, CMSG_DATA(c), sizeof aux);  // CMSG_DATA need not be aligned for the struct
      status = aux.tp_status;
    }
  }
  const auto len = static_cast<std::size_t>(n);
  if (len <= out.size()) {
    // A partial checksum we cannot complete (not TCP/UDP over IPv4) goes up as it is.
    if ((status & TP_STATUS_CSUMNOTREADY) != 0 && complete_partial(out.first(len))) ++rx_.csum_completed;
    return {n};
  }
  // Longer than the caller's buffer. A TCP super-frame whose checksum the kernel left to us or
  // verified, and whose pieces fit the buffer, is cut; anything else is dropped.
  const std::size_t wire = capabilities().mtu + kEth;
  const bool vouched = (status & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID)) != 0;
  if (vouched && len > wire && out.size() >= wire && len <= out.size() + overflow_.size() &&
      (msg.msg_flags & MSG_CTRUNC) == 0) {
    super_.assign(out.begin(), out.end());
    super_.insert(super_.end(), overflow_.begin(), overflow_.begin() + static_cast<std::ptrdiff_t>(len - out.size()));
    if (cutter_.load(super_, capabilities().mtu)) {
      ++counters_.rx_gso_cut;
      const std::size_t piece = cutter_.next(out);
      return {static_cast<ssize_t>(piece), piece == 0};
    }
  }
  ++rx_.dropped_too_big;
  return {n, true};
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
      {"rx_csum_trusted", rx_.csum_trusted},
      {"rx_gso_frames", rx_.gso_frames},
      {"rx_gso_cut", counters_.rx_gso_cut},
      {"rx_kernel_drops", counters_.rx_kernel_drops},
      {"tx_held", tx_backlog_.held},
      {"tx_dropped_backlog_full", tx_backlog_.dropped_full},
      {"tx_backlog_max", tx_backlog_.max_frames},
      {"tx_dropped_down", counters_.tx_dropped_down},
      {"tx_dropped_error", counters_.tx_dropped_error},
  };
}

}  // namespace drivers
