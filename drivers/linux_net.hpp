// Pieces both Linux drivers (TAP, AF_PACKET) need: a descriptor closed on every early return, an
// ifreq for interface ioctls, and the receive side of the virtio-net header that both use for
// offloads (virtio spec §5.1.6).
#pragma once

#include <net/if.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

namespace drivers::linux_net {

// A file descriptor closed on every early return.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int release() { return std::exchange(fd, -1); }
};

// A zeroed ifreq naming `name` (its length is checked by the caller: < IFNAMSIZ).
struct ifreq make_ifreq(const std::string& name);

// Completes a NEEDS_CSUM frame: sums bytes [csum_start, end) (the field already holds the
// pseudo-header sum, CHECKSUM_PARTIAL) and stores the complement at csum_start + csum_offset.
// False (frame left alone) when the offsets do not fit inside the frame.
bool complete_checksum(std::span<std::byte> frame, std::uint16_t csum_start, std::uint16_t csum_offset);

// What the virtio-net header in front of one received frame meant. The first fields (flags,
// gso_type, hdr_len, gso_size, csum_start, csum_offset) are laid out alike in virtio_net_hdr
// (packet sockets) and virtio_net_hdr_v1 (tun), little-endian on every host we build for.
struct VnetRx {
  bool ok = true;                 // false: checksum offsets outside the frame (drop it)
  bool checksum_completed = false;
  bool checksum_trusted = false;  // NEEDS_CSUM left partial: nothing above reads the field
  bool checksum_vouched = false;  // completed or trusted here, or DATA_VALID: the kernel vouches
  bool gso = false;               // a TCP super-frame, handed up whole
};
// `complete_partial`: whether a NEEDS_CSUM frame gets its checksum completed (summed) or is only
// trusted, as Linux trusts CHECKSUM_PARTIAL on local delivery (its field then still holds the
// pseudo-header sum: fine for the stack, which skips a vouched checksum, not for a pcap).
VnetRx apply_vnet_header(std::span<const std::byte> hdr, std::span<std::byte> frame, bool complete_partial = true);

}  // namespace drivers::linux_net
