// TsoBatch: transmit segmentation offload done at the driver's edge. The stack sends ordinary,
// wire-sized TCP segments; when consecutive frames are full-sized segments of one connection
// that a kernel's TCP segmentation would cut exactly so from one large segment, the driver joins
// them into that large segment (a "super-frame", up to 64 KiB) and hands it to the kernel with a
// virtio-net header asking it to segment (gso_type TCPV4, gso_size = the segment size) and to
// fill in the TCP checksum (NEEDS_CSUM). One write(2) then carries up to 44 segments.
//
// Read first: virtio spec §5.1.6 (struct virtio_net_hdr, VIRTIO_NET_HDR_GSO_TCPV4,
// VIRTIO_NET_HDR_F_NEEDS_CSUM); how TCP segmentation offload cuts a segment: every piece gets
// the same headers, the sequence number advanced by the bytes before it, the IPv4 identification
// advanced by one per piece, and FIN and PSH only on the last piece (Linux's tcp_gso_segment
// and inet_gso_segment behave so, and so do NICs with TSO).
//
// Because the kernel recreates exactly the frames the stack made, what the stack sent is what
// the wire carries: the pcap writer and the fault injector, which sit outside the driver, still
// see and act on every wire segment. A frame joins the batch only when that holds:
//   - IPv4 without options, TCP, the same addresses, TTL, TOS and DF as the batch, and an
//     identification one above the previous frame's;
//   - the same ports, acknowledgment number, window and TCP options byte for byte (the same
//     timestamps: a batch forms within one output round);
//   - its sequence number right after the batch's last byte;
//   - flags ACK only, except that the last frame may add PSH; no SYN, FIN, RST, URG, ECE/CWR;
//   - every frame before it carried exactly the segment size (the first frame's payload), and
//     it carries at most that; a shorter one (or PSH) closes the batch.
// Anything else goes out as it is, after the batch. The class is pure (no system calls) so
// the rules are unit-tested on their own (tests/drivers/test_tso.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace drivers {

class TsoBatch {
 public:
  explicit TsoBatch(std::size_t max_frame = 65535 + 14) : max_frame_(max_frame) {}

  enum class Offer {
    Joined,     // the frame is in the batch (copied): nothing more to do with it now
    Mismatch,   // a TCP data segment that cannot join: send the batch, then offer it again
    NotData,    // not a TCP data segment that could ever join: send the batch, then this frame
  };
  Offer offer(std::span<const std::byte> frame);

  bool empty() const { return segments_ == 0; }
  std::size_t segments() const { return segments_; }

  // The batch as one frame. With one segment: that frame, unchanged (its checksums are whole).
  // With more: the super-frame, its IPv4 total length and header checksum rewritten and the TCP
  // checksum field holding the pseudo-header sum for the whole segment (CHECKSUM_PARTIAL), and
  // the virtio-net fields the kernel needs to cut it back. Valid until the next offer()/clear().
  struct Out {
    std::span<const std::byte> frame;
    bool gso = false;
    std::uint16_t hdr_len = 0;      // Ethernet + IPv4 + TCP headers
    std::uint16_t gso_size = 0;     // payload bytes per wire segment
    std::uint16_t csum_start = 0;   // where the TCP header starts
    std::uint16_t csum_offset = 0;  // the TCP checksum field, from csum_start
  };
  Out finish();
  void clear();

  // Writes the virtio-net header for `out` into `hdr` (10 or 12 bytes, little-endian fields:
  // flags, gso_type, hdr_len, gso_size, csum_start, csum_offset; the rest zero).
  static void write_vnet_header(const Out& out, std::span<std::byte> hdr);
  // For one frame sent whole whose TCP checksum the stack left partial (the field holds the
  // pseudo-header sum, stack::wire::tcp::ChecksumMode::Partial): NEEDS_CSUM with csum_start at
  // its TCP header and csum_offset 16, so the kernel completes it (or a local receiver trusts it).
  // False, `hdr` untouched, for anything but an unfragmented IPv4 packet carrying TCP.
  static bool write_partial_checksum_header(std::span<const std::byte> frame, std::span<std::byte> hdr);

 private:
  std::size_t max_frame_;
  std::vector<std::byte> buf_;  // the first frame's headers, then every payload in order
  std::size_t segments_ = 0;
  std::size_t l3_ = 0, l4_ = 0, payload_ = 0;  // offsets of the IPv4 header, TCP header, payload
  std::uint16_t gso_size_ = 0;
  std::uint16_t last_ident_ = 0;
  std::uint32_t next_seq_ = 0;
  bool closed_ = false;  // a short or PSH segment ended the batch
};

}  // namespace drivers
