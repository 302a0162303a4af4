// Internet Protocol version 4: the datagram header (RFC 791 §3.1).
//
// Read first: RFC 791 §3.1 (header format); RFC 1122 §3.2.1 (what a host MUST check on input:
// version, checksum, lengths) and §3.2.1.8 (unknown options are ignored); RFC 815 and RFC 791
// §3.2 for fragments (reassembly lives in iface/, not here).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Version|  IHL  |Type of Service|          Total Length         |   0
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |         Identification        |Flags|      Fragment Offset    |   4
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Time to Live |    Protocol   |         Header Checksum       |   8
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                       Source Address                          |  12
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Destination Address                        |  16
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Options (IHL > 5)          |    Padding    |  20
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// IHL counts 32-bit words; Total Length counts bytes of header + data; Flags are
// (reserved, DF, MF); Fragment Offset counts 8-byte units. This API speaks bytes throughout:
// header_len() and frag_offset() are byte counts.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

#include "stack/util/bytes.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ip_address.hpp"

namespace stack::wire {

// "ICMP", "TCP", "UDP", or the decimal number for anything else ("47").
std::string describe(IpProtocol p);

namespace ipv4 {

namespace field {
inline constexpr std::size_t ver_ihl = 0;  // version (high nibble), IHL (low nibble)
inline constexpr std::size_t tos = 1;
inline constexpr Field total_len{2, 4};
inline constexpr Field ident{4, 6};
inline constexpr Field flags_frag{6, 8};  // 3 flag bits, 13-bit offset in 8-byte units
inline constexpr std::size_t ttl = 8;
inline constexpr std::size_t protocol = 9;
inline constexpr Field checksum{10, 12};
inline constexpr Field src{12, 16};
inline constexpr Field dst{16, 20};
}  // namespace field

inline constexpr std::size_t kMinHeaderLen = field::dst.end;  // 20
inline constexpr std::size_t kMaxHeaderLen = 60;               // IHL is 4 bits: 15 words
inline constexpr std::size_t kMaxTotalLen = 0xffff;
inline constexpr std::uint16_t kFlagDontFrag = 0x4000;
inline constexpr std::uint16_t kFlagMoreFrags = 0x2000;
inline constexpr std::uint16_t kFragOffsetMask = 0x1fff;

// A view over one datagram. `Byte` is `const std::byte` (read-only) or `std::byte` (writable).
template <class Byte>
class Packet {
 public:
  // RFC 1122 §3.2.1.1 and §3.2.1.2: version 4, IHL >= 5 and
  // header_len <= total_len <= buf.size(). After success every accessor stays inside the buffer,
  // and payload() excludes bytes past total_len (Ethernet pads short frames to 60 bytes).
  // The checksum is NOT verified here: call verify_checksum() (RFC 1122 §3.2.1.2 MUST).
  static std::optional<Packet> checked(std::span<Byte> buf) {
    auto p = checked_prefix(buf);
    if (!p || p->total_len() > buf.size()) return std::nullopt;
    return p;
  }
  // For the copy of a datagram quoted inside an ICMP error (RFC 792): only its first bytes are
  // present, so total_len may exceed the buffer. Checks version 4, IHL >= 5,
  // header_len <= total_len and header_len <= buf.size(); payload() is then clipped to the buffer.
  static std::optional<Packet> checked_prefix(std::span<Byte> buf) {
    if (buf.size() < kMinHeaderLen) return std::nullopt;
    Packet p{buf};
    if (p.version() != 4) return std::nullopt;
    if (p.header_len() < kMinHeaderLen || p.header_len() > buf.size()) return std::nullopt;
    if (p.total_len() < p.header_len()) return std::nullopt;
    return p;
  }
  // For emission into a buffer we sized ourselves (at least kMinHeaderLen bytes).
  static Packet unchecked(std::span<Byte> buf) { return Packet{buf}; }

  std::uint8_t version() const { return static_cast<std::uint8_t>(load_u8(buf_, field::ver_ihl) >> 4); }
  std::size_t header_len() const { return std::size_t{load_u8(buf_, field::ver_ihl) & 0x0fu} * 4; }
  std::uint8_t tos() const { return load_u8(buf_, field::tos); }
  std::uint16_t total_len() const { return load_be16(buf_, field::total_len); }
  std::uint16_t ident() const { return load_be16(buf_, field::ident); }
  bool dont_frag() const { return (load_be16(buf_, field::flags_frag) & kFlagDontFrag) != 0; }
  bool more_frags() const { return (load_be16(buf_, field::flags_frag) & kFlagMoreFrags) != 0; }
  // In bytes (the field counts 8-byte units).
  std::uint16_t frag_offset() const {
    return static_cast<std::uint16_t>((load_be16(buf_, field::flags_frag) & kFragOffsetMask) * 8u);
  }
  std::uint8_t ttl() const { return load_u8(buf_, field::ttl); }
  IpProtocol protocol() const { return static_cast<IpProtocol>(load_u8(buf_, field::protocol)); }
  std::uint16_t checksum() const { return load_be16(buf_, field::checksum); }
  Ipv4Address src() const { return load_ipv4(buf_, field::src.begin); }
  Ipv4Address dst() const { return load_ipv4(buf_, field::dst.begin); }

  // The raw option bytes, [20, header_len). Not interpreted (see Repr::parse).
  std::span<Byte> options() const { return buf_.subspan(kMinHeaderLen, header_len() - kMinHeaderLen); }
  // [header_len, total_len): trailing link-layer padding is excluded. Clipped to the buffer for
  // checked_prefix() views.
  std::span<Byte> payload() const {
    const std::size_t end = std::min<std::size_t>(total_len(), buf_.size());
    return buf_.subspan(header_len(), end - header_len());
  }
  // The whole buffer the view was made from (may include padding after total_len).
  std::span<Byte> bytes() const { return buf_; }

  // RFC 791 §3.1 "Header Checksum": the header, options included, sums to zero.
  bool verify_checksum() const { return internet_checksum(buf_.first(header_len())) == 0; }

  void set_version(std::uint8_t v) requires(!std::is_const_v<Byte>) {
    store_u8(buf_, field::ver_ihl, static_cast<std::uint8_t>((v << 4) | (load_u8(buf_, field::ver_ihl) & 0x0f)));
  }
  // `len` in bytes: a multiple of 4 in [20, 60].
  void set_header_len(std::size_t len) requires(!std::is_const_v<Byte>) {
    assert(len % 4 == 0 && len >= kMinHeaderLen && len <= kMaxHeaderLen);
    store_u8(buf_, field::ver_ihl,
             static_cast<std::uint8_t>((load_u8(buf_, field::ver_ihl) & 0xf0) | (len / 4)));
  }
  void set_tos(std::uint8_t v) requires(!std::is_const_v<Byte>) { store_u8(buf_, field::tos, v); }
  void set_total_len(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::total_len, v); }
  void set_ident(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::ident, v); }
  void set_dont_frag(bool on) requires(!std::is_const_v<Byte>) { set_flag(kFlagDontFrag, on); }
  void set_more_frags(bool on) requires(!std::is_const_v<Byte>) { set_flag(kFlagMoreFrags, on); }
  // `bytes` must be a multiple of 8 (RFC 791 §3.1 "Fragment Offset").
  void set_frag_offset(std::uint16_t bytes) requires(!std::is_const_v<Byte>) {
    assert(bytes % 8 == 0);
    const auto rest = static_cast<std::uint16_t>(load_be16(buf_, field::flags_frag) & ~kFragOffsetMask);
    store_be16(buf_, field::flags_frag, static_cast<std::uint16_t>(rest | (bytes / 8)));
  }
  // Clears all three flag bits, including the reserved one (RFC 791: "must be zero").
  void clear_flags() requires(!std::is_const_v<Byte>) {
    store_be16(buf_, field::flags_frag, static_cast<std::uint16_t>(load_be16(buf_, field::flags_frag) & kFragOffsetMask));
  }
  void set_ttl(std::uint8_t v) requires(!std::is_const_v<Byte>) { store_u8(buf_, field::ttl, v); }
  void set_protocol(IpProtocol p) requires(!std::is_const_v<Byte>) {
    store_u8(buf_, field::protocol, static_cast<std::uint8_t>(p));
  }
  void set_checksum(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::checksum, v); }
  void set_src(Ipv4Address a) requires(!std::is_const_v<Byte>) { store_ipv4(buf_, field::src.begin, a); }
  void set_dst(Ipv4Address a) requires(!std::is_const_v<Byte>) { store_ipv4(buf_, field::dst.begin, a); }
  // Computes the header checksum over header_len() bytes (set IHL first).
  void fill_checksum() requires(!std::is_const_v<Byte>) {
    set_checksum(0);
    set_checksum(internet_checksum(buf_.first(header_len())));
  }

 private:
  explicit Packet(std::span<Byte> buf) : buf_(buf) {}
  void set_flag(std::uint16_t flag, bool on) requires(!std::is_const_v<Byte>) {
    const std::uint16_t v = load_be16(buf_, field::flags_frag);
    store_be16(buf_, field::flags_frag, static_cast<std::uint16_t>(on ? (v | flag) : (v & ~flag)));
  }
  std::span<Byte> buf_;
};
using View = Packet<const std::byte>;
using ViewMut = Packet<std::byte>;

// RFC 791 §3.1 option format, checked before anything looks at a datagram: each option is either a
// single byte (0 End of Option List, which ends the list; 1 No Operation) or kind, length (>= 2,
// counting kind and length) and data, within the header. The route options (7 Record Route,
// 131 Loose and 137 Strict Source Route) carry a pointer that must be >= 4 and a route of whole
// addresses. A datagram failing this is malformed and silently discarded (RFC 1122 §3.2.1.8
// asks hosts to ignore options they do not implement, not malformed ones; Linux and the BSDs drop
// these as "bad options"). `options` is View::options().
bool options_well_formed(std::span<const std::byte> options);

// The header as a plain value: what the stack reads and what it sends.
struct Repr {
  Ipv4Address src;
  Ipv4Address dst;
  IpProtocol protocol{};
  std::size_t payload_len = 0;  // total_len - header_len
  std::uint8_t ttl = 64;
  std::uint16_t ident = 0;
  bool dont_frag = false;
  bool more_frags = false;
  std::uint16_t frag_offset = 0;  // bytes, a multiple of 8
  std::uint8_t tos = 0;

  // Options are skipped: RFC 1122 §3.2.1.8 "MUST ignore ... options [it does not] implement",
  // and none of the ones a host might honour (source routes) are safe to honour.
  // The view must come from checked() or checked_prefix().
  static Repr parse(const View& packet);
  // We never emit options.
  static constexpr std::size_t header_len() { return kMinHeaderLen; }
  // Writes a 20-byte header, total_len = 20 + payload_len, and the header checksum.
  // `packet` must hold at least header_len() bytes; payload_len must be <= 65515.
  void emit(ViewMut& packet) const;
  // tcpdump -v style: "IP (tos 0x0, ttl 64, id 2494, offset 0, flags [DF], proto ICMP (1), length 84)
  // 10.77.0.74 > 10.77.0.1"
  std::string describe() const;
  bool operator==(const Repr&) const = default;
};

}  // namespace ipv4
}  // namespace stack::wire
