// TsoBatch: see tso.hpp.
#include "drivers/tso.hpp"

#include <algorithm>
#include <cstring>

#include "stack/wire/checksum.hpp"

namespace drivers {

namespace {

constexpr std::size_t kEthLen = 14;
constexpr std::uint8_t kFin = 0x01, kPsh = 0x08, kAck = 0x10;
constexpr std::uint8_t kVnetNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr std::uint8_t kVnetGsoTcpv4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4

std::uint16_t be16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned>(b[at]) << 8) | static_cast<unsigned>(b[at + 1]));
}
std::uint32_t be32(std::span<const std::byte> b, std::size_t at) {
  return (std::uint32_t{be16(b, at)} << 16) | be16(b, at + 2);
}
void put16(std::span<std::byte> b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}
void put16le(std::span<std::byte> b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v & 0xff);
  b[at + 1] = static_cast<std::byte>(v >> 8);
}

// Where the headers of a candidate frame are: an Ethernet frame carrying IPv4 without options
// (IHL 5), not a fragment, carrying TCP with a payload and flags ACK, optionally with PSH and FIN
// (the kernel keeps those on the last piece only). Anything else is not data a segmentation
// offload could have produced.
struct Layout {
  std::size_t l4 = 0;       // TCP header offset in the frame
  std::size_t payload = 0;  // payload offset
  std::size_t end = 0;      // the IPv4 packet's end (padding after it is not payload)
  std::uint8_t flags = 0;
};

bool parse(std::span<const std::byte> f, Layout& out) {
  if (f.size() < kEthLen + 20 + 20) return false;
  if (be16(f, 12) != 0x0800) return false;                        // IPv4 only
  if (static_cast<std::uint8_t>(f[kEthLen]) != 0x45) return false;  // version 4, no options
  const std::size_t total = be16(f, kEthLen + 2);
  if (total < 40 || kEthLen + total > f.size()) return false;
  if ((be16(f, kEthLen + 6) & 0x3fff) != 0) return false;          // a fragment (MF or offset)
  if (static_cast<std::uint8_t>(f[kEthLen + 9]) != 6) return false;  // TCP
  const std::size_t l4 = kEthLen + 20;
  const std::size_t thl = (static_cast<std::size_t>(f[l4 + 12]) >> 4) * 4;
  if (thl < 20 || 20 + thl >= total) return false;  // no payload: nothing to join
  const auto flags = static_cast<std::uint8_t>(f[l4 + 13]);
  if ((flags & ~(kPsh | kFin)) != kAck) return false;  // ACK, optionally PSH/FIN; no SYN/RST/URG/ECE/CWR
  if (be16(f, l4 + 18) != 0) return false;          // urgent pointer
  out.l4 = l4;
  out.payload = l4 + thl;
  out.end = kEthLen + total;
  out.flags = flags;
  return true;
}

}  // namespace

TsoBatch::Offer TsoBatch::offer(std::span<const std::byte> f) {
  Layout l;
  if (!parse(f, l)) return Offer::NotData;
  const std::span<const std::byte> payload = f.subspan(l.payload, l.end - l.payload);
  if (segments_ == 0) {
    buf_.assign(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(l.end));
    segments_ = 1;
    l3_ = kEthLen;
    l4_ = l.l4;
    payload_ = l.payload;
    gso_size_ = static_cast<std::uint16_t>(payload.size());
    last_ident_ = be16(f, kEthLen + 4);
    next_seq_ = be32(f, l.l4 + 4) + static_cast<std::uint32_t>(payload.size());
    closed_ = (l.flags & (kPsh | kFin)) != 0;
    return Offer::Joined;
  }
  const std::span<const std::byte> batch(buf_);
  // The headers the kernel copies to every piece must be the batch's own.
  const bool same_headers =
      !closed_ && l.payload == payload_ &&
      std::equal(f.begin(), f.begin() + kEthLen, batch.begin()) &&        // MAC addresses, type
      f[kEthLen + 1] == batch[kEthLen + 1] &&                              // TOS
      be16(f, kEthLen + 6) == be16(batch, kEthLen + 6) &&                  // DF
      f[kEthLen + 8] == batch[kEthLen + 8] &&                              // TTL
      std::equal(f.begin() + kEthLen + 12, f.begin() + kEthLen + 20, batch.begin() + kEthLen + 12) &&  // addresses
      std::equal(f.begin() + static_cast<std::ptrdiff_t>(l4_), f.begin() + static_cast<std::ptrdiff_t>(l4_ + 4),
                 batch.begin() + static_cast<std::ptrdiff_t>(l4_)) &&      // ports
      be32(f, l4_ + 8) == be32(batch, l4_ + 8) &&                          // ACK
      be16(f, l4_ + 14) == be16(batch, l4_ + 14) &&                        // window
      std::equal(f.begin() + static_cast<std::ptrdiff_t>(l4_ + 20), f.begin() + static_cast<std::ptrdiff_t>(payload_),
                 batch.begin() + static_cast<std::ptrdiff_t>(l4_ + 20));   // options
  const bool fits = same_headers && be16(f, kEthLen + 4) == static_cast<std::uint16_t>(last_ident_ + 1) &&
                    be32(f, l4_ + 4) == next_seq_ && payload.size() <= gso_size_ &&
                    buf_.size() + payload.size() <= max_frame_ && buf_.size() - kEthLen + payload.size() <= 0xffff;
  if (!fits) return Offer::Mismatch;
  buf_.insert(buf_.end(), payload.begin(), payload.end());
  ++segments_;
  last_ident_ = be16(f, kEthLen + 4);
  next_seq_ += static_cast<std::uint32_t>(payload.size());
  // The last piece's flags are the super-frame's (the kernel puts PSH and FIN on the last piece
  // only): a response's last bytes and the FIN after them join the run before them.
  buf_[l4_ + 13] = f[l4_ + 13];
  closed_ = payload.size() < gso_size_ || (l.flags & (kPsh | kFin)) != 0;
  return Offer::Joined;
}

TsoBatch::Out TsoBatch::finish() {
  Out out;
  out.frame = buf_;
  if (segments_ < 2) return out;
  const std::span<std::byte> f(buf_);
  const auto ip_len = static_cast<std::uint16_t>(buf_.size() - l3_);
  put16(f, l3_ + 2, ip_len);
  put16(f, l3_ + 10, 0);
  put16(f, l3_ + 10, stack::wire::internet_checksum(f.subspan(l3_, l4_ - l3_)));
  // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum (not complemented); the kernel
  // adds the segment's bytes for each piece, adjusting the length.
  stack::wire::ChecksumAccumulator acc;
  acc.add(f.subspan(l3_ + 12, 8));  // source and destination addresses
  acc.add_u16(6);
  acc.add_u16(static_cast<std::uint16_t>(buf_.size() - l4_));
  put16(f, l4_ + 16, static_cast<std::uint16_t>(~acc.finish()));
  out.gso = true;
  out.hdr_len = static_cast<std::uint16_t>(payload_);
  out.gso_size = gso_size_;
  out.csum_start = static_cast<std::uint16_t>(l4_);
  out.csum_offset = 16;
  return out;
}

void TsoBatch::clear() {
  buf_.clear();
  segments_ = 0;
  closed_ = false;
}

bool TsoBatch::write_partial_checksum_header(std::span<const std::byte> f, std::span<std::byte> hdr) {
  if (hdr.size() < 10 || f.size() < kEthLen + 20 || be16(f, 12) != 0x0800) return false;
  const auto vihl = static_cast<std::uint8_t>(f[kEthLen]);
  const std::size_t ihl = std::size_t{vihl & 0x0fu} * 4;
  if ((vihl >> 4) != 4 || ihl < 20) return false;
  const std::size_t total = be16(f, kEthLen + 2);
  if (total < ihl + 20 || kEthLen + total > f.size()) return false;
  if ((be16(f, kEthLen + 6) & 0x3fff) != 0) return false;            // a fragment (MF or offset)
  if (static_cast<std::uint8_t>(f[kEthLen + 9]) != 6) return false;  // TCP
  std::fill(hdr.begin(), hdr.end(), std::byte{0});
  hdr[0] = static_cast<std::byte>(kVnetNeedsCsum);
  put16le(hdr, 6, static_cast<std::uint16_t>(kEthLen + ihl));
  put16le(hdr, 8, 16);
  return true;
}

void TsoBatch::write_vnet_header(const Out& out, std::span<std::byte> hdr) {
  std::fill(hdr.begin(), hdr.end(), std::byte{0});
  if (!out.gso || hdr.size() < 10) return;
  hdr[0] = static_cast<std::byte>(kVnetNeedsCsum);
  hdr[1] = static_cast<std::byte>(kVnetGsoTcpv4);
  put16le(hdr, 2, out.hdr_len);
  put16le(hdr, 4, out.gso_size);
  put16le(hdr, 6, out.csum_start);
  put16le(hdr, 8, out.csum_offset);
}

}  // namespace drivers
