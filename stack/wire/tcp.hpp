// Transmission Control Protocol header and options (RFC 9293 §3.1, §3.2).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |          Source Port          |       Destination Port        |
// |                        Sequence Number                        |
// |                    Acknowledgment Number                      |
// |  Data |       |C|E|U|A|P|R|S|F|                               |
// | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
// |       |       |R|E|G|K|H|T|N|N|                               |
// |           Checksum            |         Urgent Pointer        |
// |                    Options                    |    Padding    |
// |                             data                              |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Read first: RFC 9293 §3.1–3.4 (header, options, sequence numbers); RFC 7323 §2–3 (window
// scale, timestamps); RFC 2018 §2–3 (SACK); docs/hostile-inputs.md §F (what a peer may send us).
#pragma once

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "stack/util/bytes.hpp"
#include "stack/wire/ip_address.hpp"

namespace stack::wire::tcp {

// A sequence number. RFC 9293 §3.4: "all arithmetic dealing with sequence numbers must be
// performed modulo 2**32". The order is modular and not transitive, so there is deliberately no
// defaulted <=>: `a < b` means "b is less than 2^31 ahead of a". Converting an out-of-range
// unsigned value to int32_t is defined (modular) in C++20.
//
// The arithmetic defends itself: a step of 2^31 or more, or a length asked of a range whose end
// lies behind its start, makes every comparison after it meaningless, so these preconditions are
// asserted (debug, sanitizer and fuzz builds keep asserts on). Window tests use in_window() and
// in_range(), which are exact for any window up to 2^32 - 1 bytes because they compare unsigned
// offsets from the left edge instead of chaining two modular comparisons.
struct SeqNum {
  std::uint32_t raw = 0;

  static constexpr std::uint32_t kMaxStep = 0x7fffffffu;  // the largest distance the order can see

  friend constexpr SeqNum operator+(SeqNum s, std::uint32_t n) {
    assert(n <= kMaxStep && "sequence step of 2^31 or more");
    return {s.raw + n};
  }
  friend constexpr SeqNum operator-(SeqNum s, std::uint32_t n) {
    assert(n <= kMaxStep && "sequence step of 2^31 or more");
    return {s.raw - n};
  }
  // Signed distance from b to a (a - b), valid while the two are within 2^31 of each other.
  friend constexpr std::int32_t operator-(SeqNum a, SeqNum b) { return static_cast<std::int32_t>(a.raw - b.raw); }
  friend constexpr bool operator<(SeqNum a, SeqNum b) { return (a - b) < 0; }
  friend constexpr bool operator<=(SeqNum a, SeqNum b) { return (a - b) <= 0; }
  friend constexpr bool operator>(SeqNum a, SeqNum b) { return (a - b) > 0; }
  friend constexpr bool operator>=(SeqNum a, SeqNum b) { return (a - b) >= 0; }
  friend constexpr bool operator==(SeqNum a, SeqNum b) { return a.raw == b.raw; }
  SeqNum& operator+=(std::uint32_t n) { *this = *this + n; return *this; }

  // Is this number inside the window [start, start + len)? Exact for every len (gVisor's
  // seqnum.Value.InWindow is the model): the offset from the left edge, taken modulo 2^32, must
  // be below the window's length. An empty window holds nothing.
  constexpr bool in_window(SeqNum start, std::uint32_t len) const { return raw - start.raw < len; }
  // Is this number in [first, last)? The same test, with the window given by its two edges
  // (`last` must not lie behind `first`).
  constexpr bool in_range(SeqNum first, SeqNum last) const { return raw - first.raw < last.raw - first.raw; }
};
// Unsigned length of [from, to). Precondition: `to` is not behind `from` (asserted).
constexpr std::uint32_t seq_len(SeqNum from, SeqNum to) {
  assert(from <= to && "seq_len of a range whose end is behind its start");
  return to.raw - from.raw;
}
constexpr SeqNum seq_max(SeqNum a, SeqNum b) { return a < b ? b : a; }
constexpr SeqNum seq_min(SeqNum a, SeqNum b) { return a < b ? a : b; }

namespace field {
inline constexpr Field src_port{0, 2};
inline constexpr Field dst_port{2, 4};
inline constexpr Field seq{4, 8};
inline constexpr Field ack{8, 12};
inline constexpr Field offset_flags{12, 14};  // data offset (4 bits), reserved (4), flags (8)
inline constexpr Field window{14, 16};
inline constexpr Field checksum{16, 18};
inline constexpr Field urgent{18, 20};
}  // namespace field
inline constexpr std::size_t kMinHeaderLen = field::urgent.end;  // 20
inline constexpr std::size_t kMaxHeaderLen = 60;                 // data offset 15 words

// Flag bits in the low byte of offset_flags.
namespace flag {
inline constexpr std::uint16_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20,
                               kEce = 0x40, kCwr = 0x80;
}

// Option kinds (IANA "TCP Option Kind Numbers").
namespace option {
inline constexpr std::uint8_t kEnd = 0, kNop = 1, kMss = 2, kWindowScale = 3, kSackPermitted = 4, kSack = 5,
                              kTimestamps = 8;
}

// RFC 7323 §2.3: "the shift count ... MUST be [limited to] 14".
inline constexpr std::uint8_t kMaxWindowScale = 14;

// A view over one TCP segment (header + payload). `Byte` is `const std::byte` or `std::byte`.
template <class Byte>
class Packet {
 public:
  // docs/hostile-inputs.md #35: the buffer holds a fixed header, the data offset is at least 5 words
  // and the header it announces fits in the buffer. After success no accessor reads past it.
  static std::optional<Packet> checked(std::span<Byte> buf) {
    if (buf.size() < kMinHeaderLen) return std::nullopt;
    Packet p{buf};
    if (p.header_len() < kMinHeaderLen || p.header_len() > buf.size()) return std::nullopt;
    return p;
  }
  // For emission into a buffer we sized ourselves.
  static Packet unchecked(std::span<Byte> buf) { return Packet{buf}; }

  std::uint16_t src_port() const { return load_be16(buf_, field::src_port); }
  std::uint16_t dst_port() const { return load_be16(buf_, field::dst_port); }
  SeqNum seq() const { return {load_be32(buf_, field::seq)}; }
  SeqNum ack_number() const { return {load_be32(buf_, field::ack)}; }
  std::size_t header_len() const { return std::size_t{load_u8(buf_, field::offset_flags.begin)} >> 4 << 2; }
  std::uint8_t flags() const { return load_u8(buf_, field::offset_flags.begin + 1); }
  bool fin() const { return (flags() & flag::kFin) != 0; }
  bool syn() const { return (flags() & flag::kSyn) != 0; }
  bool rst() const { return (flags() & flag::kRst) != 0; }
  bool psh() const { return (flags() & flag::kPsh) != 0; }
  bool ack() const { return (flags() & flag::kAck) != 0; }
  bool urg() const { return (flags() & flag::kUrg) != 0; }
  std::uint16_t window() const { return load_be16(buf_, field::window); }
  std::uint16_t checksum() const { return load_be16(buf_, field::checksum); }
  std::uint16_t urgent_pointer() const { return load_be16(buf_, field::urgent); }
  std::span<Byte> options() const { return buf_.subspan(kMinHeaderLen, header_len() - kMinHeaderLen); }
  std::span<Byte> payload() const { return buf_.subspan(header_len()); }
  std::span<Byte> bytes() const { return buf_; }

  // RFC 9293 §3.1: the checksum covers the pseudo-header, the header and the data.
  bool verify_checksum(Ipv4Address src, Ipv4Address dst) const;

  void set_src_port(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::src_port, v); }
  void set_dst_port(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::dst_port, v); }
  void set_seq(SeqNum v) requires(!std::is_const_v<Byte>) { store_be32(buf_, field::seq, v.raw); }
  void set_ack_number(SeqNum v) requires(!std::is_const_v<Byte>) { store_be32(buf_, field::ack, v.raw); }
  // Data offset in bytes (a multiple of 4, 20..60) and the flag byte.
  void set_header_len_and_flags(std::size_t len, std::uint8_t flags) requires(!std::is_const_v<Byte>) {
    store_be16(buf_, field::offset_flags, static_cast<std::uint16_t>(((len / 4) << 12) | flags));
  }
  void set_window(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::window, v); }
  void set_checksum(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::checksum, v); }
  void set_urgent_pointer(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::urgent, v); }
  // Computes and stores the checksum over the whole buffer (header + payload).
  void fill_checksum(Ipv4Address src, Ipv4Address dst) requires(!std::is_const_v<Byte>);
  // Stores only the folded pseudo-header sum, not complemented (Linux's CHECKSUM_PARTIAL): whoever
  // completes it sums the segment from the TCP header on, this field included, and stores the
  // complement (virtio-net NEEDS_CSUM with csum_offset 16).
  void fill_partial_checksum(Ipv4Address src, Ipv4Address dst) requires(!std::is_const_v<Byte>);

 private:
  explicit Packet(std::span<Byte> buf) : buf_(buf) {}
  std::span<Byte> buf_;
};
using View = Packet<const std::byte>;
using ViewMut = Packet<std::byte>;

// The checksum of `segment` under the IPv4 pseudo-header (0 when it verifies).
std::uint16_t segment_checksum(std::span<const std::byte> segment, Ipv4Address src, Ipv4Address dst);
// The folded IPv4 pseudo-header sum of a TCP segment of `len` bytes, not complemented: the value
// a partial checksum field holds (CHECKSUM_PARTIAL).
std::uint16_t pseudo_header_sum(Ipv4Address src, Ipv4Address dst, std::size_t len);

template <class Byte>
bool Packet<Byte>::verify_checksum(Ipv4Address src, Ipv4Address dst) const {
  return segment_checksum(buf_, src, dst) == 0;
}
template <class Byte>
void Packet<Byte>::fill_checksum(Ipv4Address src, Ipv4Address dst) requires(!std::is_const_v<Byte>) {
  set_checksum(0);
  set_checksum(segment_checksum(buf_, src, dst));
}
template <class Byte>
void Packet<Byte>::fill_partial_checksum(Ipv4Address src, Ipv4Address dst) requires(!std::is_const_v<Byte>) {
  set_checksum(pseudo_header_sum(src, dst, buf_.size()));
}

// Whether emit() sums the whole segment (Full) or leaves the checksum partial for a device that
// completes it (Partial: transmit checksum offload; see fill_partial_checksum).
enum class ChecksumMode { Full, Partial };

// One SACK block (RFC 2018 §3): the peer holds [left, right).
struct SackBlock {
  SeqNum left;
  SeqNum right;
  bool operator==(const SackBlock&) const = default;
};

// Control bits other than ACK (whose presence is `Repr::ack.has_value()`).
struct Flags {
  bool fin = false;
  bool syn = false;
  bool rst = false;
  bool psh = false;
  bool urg = false;  // parsed and kept, never acted on (docs/hostile-inputs.md #43, RFC 6093)
  bool ece = false;
  bool cwr = false;
  bool operator==(const Flags&) const = default;
};

// The header as a plain value, with options decoded.
struct Repr {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  SeqNum seq;
  std::optional<SeqNum> ack;       // present iff the ACK bit is set
  Flags flags;
  std::uint16_t window_raw = 0;    // as on the wire, before window scaling
  std::uint16_t urgent_ptr = 0;
  std::optional<std::uint16_t> mss;                             // RFC 9293 §3.7.1
  std::optional<std::uint8_t> window_scale;                     // RFC 7323 §2, raw shift (not clamped)
  bool sack_permitted = false;                                  // RFC 2018 §2
  std::optional<std::pair<std::uint32_t, std::uint32_t>> timestamps;  // RFC 7323 §3 (TSval, TSecr)
  std::array<std::optional<SackBlock>, 4> sack_blocks{};        // RFC 2018 §3
  std::span<const std::byte> payload;

  // Decodes header and options. Malformed options (length 0 or 1, running past the header, a
  // known option with the wrong length) reject the segment: RFC 9293 MUST-7 lets us "cope with
  // an illegal option length" by dropping it, and docs/hostile-inputs.md #37/#38 show why.
  static std::optional<Repr> parse(const View& packet);

  // RFC 9293 §3.4: SEG.LEN counts the SYN and FIN flags.
  std::uint32_t segment_len() const {
    return static_cast<std::uint32_t>(payload.size()) + (flags.syn ? 1u : 0u) + (flags.fin ? 1u : 0u);
  }
  std::size_t header_len() const;                              // 20 + options, padded to 4
  std::size_t buffer_len() const { return header_len() + payload.size(); }
  // Writes header, options and payload and fills the checksum (or, Partial, only the
  // pseudo-header sum). `packet` is buffer_len() bytes.
  void emit(ViewMut& packet, Ipv4Address src, Ipv4Address dst, ChecksumMode mode = ChecksumMode::Full) const;
  // tcpdump -n style: "Flags [S.], seq 0, ack 1, win 64240, options [mss 1460,...], length 0".
  std::string describe() const;

  bool operator==(const Repr& o) const;
};

// "[S.]", "[P.]", "[R]", "[F.]" as tcpdump prints flags.
std::string describe_flags(const Repr& r);

}  // namespace stack::wire::tcp
