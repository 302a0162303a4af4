#include "drivers/linux_net.hpp"

#include <cstring>

#include "stack/wire/checksum.hpp"

namespace drivers::linux_net {

namespace {
constexpr std::size_t kFlags = 0;
constexpr std::size_t kGsoType = 1;
constexpr std::size_t kCsumStart = 6;
constexpr std::size_t kCsumOffset = 8;
constexpr std::uint8_t kNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr std::uint8_t kDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
constexpr std::uint8_t kGsoNone = 0;    // VIRTIO_NET_HDR_GSO_NONE
constexpr std::uint8_t kGsoEcn = 0x80;  // VIRTIO_NET_HDR_GSO_ECN, a flag bit on gso_type
std::uint16_t load_le16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned>(b[at]) | (static_cast<unsigned>(b[at + 1]) << 8));
}
}  // namespace

struct ifreq make_ifreq(const std::string& name) {
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  return ifr;
}

bool complete_checksum(std::span<std::byte> frame, std::uint16_t csum_start, std::uint16_t csum_offset) {
  const std::size_t field = std::size_t{csum_start} + csum_offset;
  if (csum_start >= frame.size() || field + 2 > frame.size()) return false;
  // The kernel stored the folded pseudo-header sum in the checksum field (CHECKSUM_PARTIAL), so
  // the plain Internet checksum over [csum_start, end) is the final value.
  const std::uint16_t sum = stack::wire::internet_checksum(frame.subspan(csum_start));
  frame[field] = static_cast<std::byte>(sum >> 8);
  frame[field + 1] = static_cast<std::byte>(sum & 0xff);
  return true;
}

VnetRx apply_vnet_header(std::span<const std::byte> hdr, std::span<std::byte> frame, bool complete_partial) {
  VnetRx r;
  const auto flags = static_cast<std::uint8_t>(hdr[kFlags]);
  const auto gso = static_cast<std::uint8_t>(static_cast<std::uint8_t>(hdr[kGsoType]) & ~kGsoEcn);
  if (flags & kNeedsCsum) {
    // The frame left a kernel with CHECKSUM_PARTIAL (tun and veth keep it so): the field holds
    // the pseudo-header sum only. Complete it when something above the driver reads the field
    // (a pcap, the narration, a fault injector whose corruption the checksum must catch);
    // otherwise trust it, as Linux does for CHECKSUM_PARTIAL delivered locally: the bytes were
    // made on this machine and never crossed a wire. The offsets are checked either way.
    const std::uint16_t start = load_le16(hdr, kCsumStart);
    const std::uint16_t offset = load_le16(hdr, kCsumOffset);
    if (!complete_partial) {
      if (start >= frame.size() || std::size_t{start} + offset + 2 > frame.size()) {
        r.ok = false;
        return r;
      }
      r.checksum_trusted = true;
    } else if (!complete_checksum(frame, start, offset)) {
      r.ok = false;
      return r;
    } else {
      r.checksum_completed = true;
    }
  }
  // Either way the transport checksum needs no second look: a NEEDS_CSUM frame was made on this
  // machine (and its field, if completed, is now what the bytes sum to); DATA_VALID means the
  // kernel verified it (virtio spec §5.1.6.2.1, CHECKSUM_UNNECESSARY).
  r.checksum_vouched = r.checksum_completed || r.checksum_trusted || (flags & kDataValid) != 0;
  r.gso = gso != kGsoNone;
  return r;
}

}  // namespace drivers::linux_net
