// PacketDevice: Ethernet frames to and from an existing Linux interface (a veth, a spare NIC)
// through an AF_PACKET socket, next to the kernel's own stack on that interface.
//
// Read first: packet(7) (SOCK_RAW, sockaddr_ll, sll_pkttype, PACKET_ADD_MEMBERSHIP,
// PACKET_IGNORE_OUTGOING, PACKET_VNET_HDR); the kernel's Documentation/networking/packet_mmap.rst;
// netdevice(7) (SIOCGIFFLAGS, SIOCGIFMTU, SIOCGIFHWADDR); virtio spec §5.1.6 (virtio_net_hdr).
//
// The stack keeps its OWN MAC address (Host derives one from the interface name, --mac overrides):
// the interface is put in promiscuous mode (PACKET_MR_PROMISC, undone by the kernel when the
// socket closes) so frames for our MAC reach us; the kernel keeps its address and its traffic.
// Frames reach both: the kernel drops what is not addressed to it (PACKET_OTHERHOST) and the stack
// drops what is not addressed to it (its own MAC filter).
//
// Linux never offers a packet socket its own transmissions, but it does offer copies of every
// other frame sent on the interface (sll_pkttype PACKET_OUTGOING): the kernel's own traffic, and
// other packet sockets'. Taken as received, they would look like a peer using the kernel's MAC.
// PACKET_IGNORE_OUTGOING (Linux 4.20) stops them at the source, and receive() also drops any frame
// whose sll_pkttype says PACKET_OUTGOING (older kernels), counted as rx_dropped_outgoing.
//
// Checksum and segmentation offload from the kernel: a frame the kernel (of another namespace, over
// a veth) sent may carry a partial TCP/UDP checksum (CHECKSUM_PARTIAL, TP_STATUS_CSUMNOTREADY), and
// GRO on a NIC or a veth peer with TSO hands over TCP super-frames larger than the MTU. With
// PACKET_VNET_HDR (PacketOptions::vnet_hdr, the default) every frame comes with a virtio_net_hdr
// that says where the checksum is to be completed and whether the frame is a super-frame:
// receive() completes such checksums in software (so the stack never drops a valid frame for a
// "bad checksum") and hands super-frames up whole (capabilities(): rx_gso, max_frame 65549), like
// TapDevice with IFF_VNET_HDR.
//
// Without vnet_hdr (--no-offload) the kernel still hands over what its peer sent: partial
// checksums and super-frames. Nothing in the frame says so; PACKET_AUXDATA does (packet(7): a
// struct tpacket_auxdata with each recvmsg(), tp_status TP_STATUS_CSUMNOTREADY for a partial
// checksum, TP_STATUS_CSUM_VALID for one the kernel verified). receive() then completes a partial
// TCP or UDP checksum of an IPv4 frame itself (the checksum field follows from the headers:
// RFC 9293 §3.1, RFC 768), counted in rx_csum_completed, so the pcap and the stack see a correct
// frame; and it cuts a TCP super-frame into wire-sized segments (SuperFrameCutter below, counted
// in rx_gso_cut), so the stack still gets one wire-sized frame per receive(). Frames longer than
// mtu + 14 that are not such a super-frame are dropped (rx_dropped_too_big).
//
// A limitation of AF_PACKET itself: frames we transmit go out of the interface, never into the
// local kernel's stack, and the kernel's frames go out too; so the stack cannot talk to the
// kernel's address on the same interface (as with macvlan without a hairpin), nor to a second
// program on the same interface. Use another host, or the veth peer, as the peer.
//
// NOT IMPLEMENTED(PACKET_MMAP): a PACKET_RX_RING / PACKET_TX_RING (TPACKET_V3) would save one copy
// and one system call per frame; this driver uses recvmsg()/sendmsg() per frame.
// Transmit offload as for TapDevice (FdDevice, drivers/tso.hpp): runs of full-sized TCP segments
// go out as one super-frame with a GSO virtio_net_hdr, which the kernel segments on the way out.
// NOT IMPLEMENTED(802.1Q): VLAN tags the kernel strips (tp_vlan_tci in PACKET_AUXDATA) are not
// put back; the stack sees untagged frames, which is right for the interface's native VLAN only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <span>
#include <utility>
#include <vector>

#include "drivers/fd_device.hpp"
#include "stack/util/result.hpp"

namespace drivers {

struct PacketOptions {
  std::string name;           // an existing interface in our network namespace
  bool promiscuous = true;    // PACKET_MR_PROMISC: needed for frames to our own (non-kernel) MAC
  bool vnet_hdr = true;       // PACKET_VNET_HDR: receive offloads (see above)
  // Ask the kernel for PACKET_IGNORE_OUTGOING. Off only in tests, to exercise the sll_pkttype
  // filter that older kernels rely on.
  bool kernel_ignore_outgoing = true;
};

enum class PacketErrorKind {
  BadName,           // empty or too long
  NoSuchDevice,      // no interface of that name in this network namespace
  NotEthernet,       // loopback, TUN, ... (not ARPHRD_ETHER)
  InterfaceDown,     // administratively down
  PermissionDenied,  // no CAP_NET_RAW
  Other,
};
const char* to_string(PacketErrorKind kind);

struct PacketError {
  PacketErrorKind kind;
  std::string message;  // one line, says what to do
};

// What receive() does with a frame, from its sll_pkttype (packet(7)): a pure function so the
// filtering rule is unit-tested without a socket.
enum class PacketRxVerdict { Accept, DropOutgoing };
PacketRxVerdict classify_packet_type(std::uint8_t sll_pkttype);

// Cuts an Ethernet/IPv4/TCP super-frame (one the kernel received or made with segmentation
// offload, longer than the link's MTU) into segments of at most `mtu` bytes of IPv4, the way a
// kernel's TCP segmentation does (tcp_gso_segment, inet_gso_segment in Linux): every piece gets
// the same headers and options, the sequence number advanced by the payload before it, the IPv4
// identification advanced by one per piece, CWR on the first piece only, FIN and PSH on the last
// piece only; each piece's IPv4 and TCP checksums computed afresh. The payload per piece is what
// fits the MTU (mtu - IPv4 header - TCP header): the peer's own segment size is not known
// without the virtio-net header, and any cut of a TCP stream is a valid one. Pure (no system
// calls): unit-tested on its own.
class SuperFrameCutter {
 public:
  // Takes a copy of `frame`; false (nothing pending) when it is not IPv4/TCP with sane lengths,
  // or carries no payload to cut.
  bool load(std::span<const std::byte> frame, std::size_t mtu);
  bool pending() const { return next_ < payload_len_; }
  // Writes the next piece into `out`: its length, or 0 when nothing is pending or `out` is too
  // small for a piece.
  std::size_t next(std::span<std::byte> out);
  // Forgets the rest (a caller whose buffer is too small for a piece).
  void drop() { next_ = payload_len_ = 0; }

 private:
  std::vector<std::byte> frame_;
  std::size_t l4_ = 0, payload_ = 0, payload_len_ = 0, piece_ = 0, next_ = 0;
  std::uint16_t ident_ = 0;
  std::uint16_t index_ = 0;
};

class PacketDevice final : public FdDevice {
 public:
  static stack::Result<std::unique_ptr<PacketDevice>, PacketError> open(const PacketOptions& options);

  // capabilities(), receive(), transmit(): FdDevice, around read_frame() and write_frame().
  Stats stats() const override;

  int ifindex() const { return ifindex_; }
  // Whether PACKET_IGNORE_OUTGOING took (else outgoing copies are filtered in receive()).
  bool kernel_ignores_outgoing() const { return ignore_outgoing_; }

  // struct virtio_net_hdr as packet sockets use it (without PACKET_VNET_HDR_SZ): 10 bytes.
  static constexpr std::size_t kVnetHdrLen = 10;
  static_assert(kVnetHdrLen <= kMaxVnetHdrLen);

 private:
  PacketDevice(int fd, std::string name, int ifindex, std::size_t mtu, bool vnet_hdr, bool ignore_outgoing)
      : FdDevice(fd, std::move(name), mtu, vnet_hdr ? kVnetHdrLen : 0), ifindex_(ifindex),
        ignore_outgoing_(ignore_outgoing) {
    if (!vnet_hdr) overflow_.resize(kMaxGsoFrame);
  }

  RawRead read_frame(FrameIov& io) override;
  // Without the virtio-net header: PACKET_AUXDATA says what the frame needs (see above).
  RawRead read_plain(FrameIov& io);
  ssize_t write_frame(FrameIov& io) override;
  void count_tx_drop(int err) override;

  int ifindex_;
  bool ignore_outgoing_;

  struct Counters {
    std::uint64_t rx_dropped_outgoing = 0;      // our own / the kernel's transmissions looped back
    std::uint64_t rx_kernel_drops = 0;          // PACKET_STATISTICS tp_drops: socket queue overflow
    std::uint64_t tx_dropped_down = 0;          // the interface went down (ENETDOWN / ENXIO)
    std::uint64_t tx_dropped_error = 0;         // sendmsg() failed otherwise (EMSGSIZE, ...)
    std::uint64_t rx_gso_cut = 0;               // super-frames cut into wire-sized segments (no vnet_hdr)
  };
  // Without vnet_hdr: where the part of a frame beyond the caller's buffer lands (a super-frame),
  // the super-frame whole, and its pieces still to hand up.
  std::vector<std::byte> overflow_;
  std::vector<std::byte> super_;
  SuperFrameCutter cutter_;
  mutable Counters counters_;  // and FdDevice's rx_ and tx_frames_; rx_kernel_drops is read (and
                               // reset by the kernel) in stats()
};

}  // namespace drivers
