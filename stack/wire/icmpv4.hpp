// Internet Control Message Protocol for IPv4 (RFC 792).
//
// Read first: RFC 792 (message formats); RFC 1122 §3.2.2 (what a host MUST send, answer and
// ignore; §3.2.2.6 echo replies carry the request's data unchanged); RFC 1191 §4 (the next-hop
// MTU in Destination Unreachable code 4); RFC 1812 §5.2.7.1 (codes 13-15); RFC 5927 (why a
// quoted header must be checked before anyone believes it).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |     Code      |          Checksum             |   0
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Echo:  Identifier            |  Sequence Number              |   4
// |  Dest unreachable: unused     |  Next-Hop MTU (code 4)        |
// |  Time exceeded: unused                                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Echo: data ...                                               |   8
// |  Errors: the offending datagram's IP header + its first 8+ bytes
//
// The checksum covers the whole ICMP message (no pseudo-header).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <variant>

#include "stack/util/bytes.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ipv4.hpp"

namespace stack::wire::icmpv4 {

namespace field {
inline constexpr std::size_t type = 0;
inline constexpr std::size_t code = 1;
inline constexpr Field checksum{2, 4};
inline constexpr Field rest_of_header{4, 8};
inline constexpr Field ident{4, 6};         // echo
inline constexpr Field seq_no{6, 8};        // echo
inline constexpr Field next_hop_mtu{6, 8};  // dest unreachable, code 4 (RFC 1191 §4)
}  // namespace field

inline constexpr std::size_t kHeaderLen = field::rest_of_header.end;  // 8
// RFC 792: errors quote "the internet header plus the first 64 bits of the original datagram's data".
inline constexpr std::size_t kMinQuotedData = 8;

// The types a host deals with. The enum can hold any value, so unknown types can be described.
enum class Type : std::uint8_t { EchoReply = 0, DestUnreachable = 3, EchoRequest = 8, TimeExceeded = 11 };

// Destination Unreachable codes: RFC 792 (0-5), RFC 1122 §3.2.2.1 (6-12), RFC 1812 §5.2.7.1 (13-15).
enum class UnreachableCode : std::uint8_t {
  Net = 0,
  Host = 1,
  Protocol = 2,
  Port = 3,
  FragNeeded = 4,
  SourceRouteFailed = 5,
  NetUnknown = 6,
  HostUnknown = 7,
  SourceHostIsolated = 8,
  NetProhibited = 9,
  HostProhibited = 10,
  NetTos = 11,
  HostTos = 12,
  AdminProhibited = 13,
  HostPrecedenceViolation = 14,
  PrecedenceCutoff = 15,
};
inline constexpr std::uint8_t kMaxUnreachableCode = 15;

// Time Exceeded codes (RFC 792).
inline constexpr std::uint8_t kTtlExceededInTransit = 0;
inline constexpr std::uint8_t kFragReassemblyExceeded = 1;

// A view over one ICMP message: the IPv4 payload (already trimmed to the IPv4 total length).
template <class Byte>
class Packet {
 public:
  // At least the 8-byte header. What follows it is checked per type by Repr::parse.
  static std::optional<Packet> checked(std::span<Byte> buf) {
    if (buf.size() < kHeaderLen) return std::nullopt;
    return Packet{buf};
  }
  // For emission into a buffer we sized ourselves (at least kHeaderLen bytes).
  static Packet unchecked(std::span<Byte> buf) { return Packet{buf}; }

  Type type() const { return static_cast<Type>(load_u8(buf_, field::type)); }
  std::uint8_t code() const { return load_u8(buf_, field::code); }
  std::uint16_t checksum() const { return load_be16(buf_, field::checksum); }
  std::uint16_t ident() const { return load_be16(buf_, field::ident); }
  std::uint16_t seq_no() const { return load_be16(buf_, field::seq_no); }
  std::uint16_t next_hop_mtu() const { return load_be16(buf_, field::next_hop_mtu); }
  std::uint32_t rest_of_header() const { return load_be32(buf_, field::rest_of_header); }
  // Everything after the 8-byte header: echo data, or the quoted datagram of an error.
  std::span<Byte> data() const { return buf_.subspan(kHeaderLen); }
  std::span<Byte> bytes() const { return buf_; }

  // RFC 792: the checksum covers the whole message; an intact message sums to zero.
  bool verify_checksum() const { return internet_checksum(buf_) == 0; }

  void set_type(Type t) requires(!std::is_const_v<Byte>) { store_u8(buf_, field::type, static_cast<std::uint8_t>(t)); }
  void set_code(std::uint8_t c) requires(!std::is_const_v<Byte>) { store_u8(buf_, field::code, c); }
  void set_checksum(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::checksum, v); }
  void set_ident(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::ident, v); }
  void set_seq_no(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::seq_no, v); }
  void set_next_hop_mtu(std::uint16_t v) requires(!std::is_const_v<Byte>) { store_be16(buf_, field::next_hop_mtu, v); }
  void set_rest_of_header(std::uint32_t v) requires(!std::is_const_v<Byte>) { store_be32(buf_, field::rest_of_header, v); }
  // Checksum over the whole buffer: make the view exactly as long as the message.
  void fill_checksum() requires(!std::is_const_v<Byte>) {
    set_checksum(0);
    set_checksum(internet_checksum(buf_));
  }

 private:
  explicit Packet(std::span<Byte> buf) : buf_(buf) {}
  std::span<Byte> buf_;
};
using View = Packet<const std::byte>;
using ViewMut = Packet<std::byte>;

// The spans below point into the parsed buffer (or, for emit, at the caller's bytes): a Repr is
// only valid while those bytes are.
struct EchoRequest {
  std::uint16_t ident = 0;
  std::uint16_t seq_no = 0;
  std::span<const std::byte> data;
  bool operator==(const EchoRequest&) const;
};
struct EchoReply {
  std::uint16_t ident = 0;
  std::uint16_t seq_no = 0;
  std::span<const std::byte> data;
  bool operator==(const EchoReply&) const;
};
struct DestUnreachable {
  UnreachableCode code{};
  std::uint16_t next_hop_mtu = 0;  // RFC 1191 §4; 0 unless code is FragNeeded
  ipv4::Repr header;               // the offending datagram's header (options dropped)
  std::span<const std::byte> data;  // the first bytes (>= 8) of the original datagram's payload
  bool operator==(const DestUnreachable&) const;
};
struct TimeExceeded {
  std::uint8_t code = kTtlExceededInTransit;
  ipv4::Repr header;
  std::span<const std::byte> data;
  bool operator==(const TimeExceeded&) const;
};

// An ICMP message the stack understands, as a plain value.
struct Repr {
  std::variant<EchoRequest, EchoReply, DestUnreachable, TimeExceeded> message;

  // Unknown types and codes give nullopt (RFC 1122 §3.2.2: "unknown type ... MUST be silently
  // discarded"). The checksum is not verified here (View::verify_checksum does). For errors the
  // quoted IPv4 header must itself pass ipv4::View::checked_prefix() on the quoted bytes and at
  // least min(8, its payload length) bytes of its payload must be quoted, or parse fails:
  // iface/ and the sockets then never look past what was really sent (RFC 5927).
  // NOT IMPLEMENTED(RFC 4884): multi-part extensions after the quote are treated as quoted data.
  static std::optional<Repr> parse(const View& packet);
  std::size_t buffer_len() const;
  // Writes the whole message into the first buffer_len() bytes of `packet` and fills the
  // checksum over exactly those bytes.
  void emit(ViewMut& packet) const;
  // tcpdump -n: "ICMP echo request, id 15622, seq 1, length 64",
  // "ICMP 10.77.0.74 udp port 9 unreachable, length 36", "ICMP time exceeded in-transit, length 92".
  std::string describe() const { return describe(buffer_len()); }
  // The same with the length as received (a parsed error's buffer_len() omits quoted IP options).
  std::string describe(std::size_t message_len) const;
  bool operator==(const Repr&) const;
};

}  // namespace stack::wire::icmpv4
