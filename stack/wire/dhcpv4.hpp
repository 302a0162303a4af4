// Dynamic Host Configuration Protocol for IPv4: the message and its options.
//
// Read first: RFC 2131 §2 (message format), §4.1 (construction), §4.3.1/Table 3 (which options a
// server puts in which reply); RFC 2132 (option encodings: §3.3 subnet mask, §3.5 router, §3.8 DNS,
// §3.14 hostname, §3.17 domain name, §5.1 MTU, §9.1–9.14 the DHCP extensions); RFC 3396 (long
// options split and concatenated); RFC 4039 (Rapid Commit, option 80). docs/hostile-inputs.md §I lists
// what a hostile server sends.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +---------------+---------------+---------------+---------------+
// |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |    0
// +---------------+---------------+---------------+---------------+
// |                            xid (4)                            |    4
// +-------------------------------+-------------------------------+
// |           secs (2)            |           flags (2)           |    8
// +-------------------------------+-------------------------------+
// |                  ciaddr (client's address, when it has one)   |   12
// |                  yiaddr ("your" address: what the server gives)|  16
// |                  siaddr (next server, for booting)            |   20
// |                  giaddr (relay agent)                         |   24
// +---------------------------------------------------------------+
// |                  chaddr (16: our MAC + 10 zero bytes)         |   28
// |                  sname  (64)                                  |   44
// |                  file   (128)                                 |  108
// +---------------------------------------------------------------+
// |                  magic cookie 99.130.83.99                    |  236
// |                  options (variable; TLV, ends with 255)       |  240
//
// Parsing is bounded and never recursive: the option area, then `file` and `sname` when option 52
// says so, each walked once. Malformed messages are dropped with a named ParseError.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "stack/util/bytes.hpp"
#include "stack/util/result.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ip_address.hpp"

namespace stack::wire::dhcpv4 {

inline constexpr std::uint16_t kServerPort = 67;  // RFC 2131 §4.1: "DHCP messages from a client to a server are sent to the 'DHCP server' port (67)"
inline constexpr std::uint16_t kClientPort = 68;
inline constexpr std::uint32_t kMagicCookie = 0x63825363;  // 99.130.83.99 (RFC 2131 §3)
inline constexpr std::uint16_t kFlagBroadcast = 0x8000;    // RFC 2131 §2 Figure 2, the leftmost bit
inline constexpr std::uint8_t kHtypeEthernet = 1;

namespace field {
inline constexpr std::size_t op = 0;
inline constexpr std::size_t htype = 1;
inline constexpr std::size_t hlen = 2;
inline constexpr std::size_t hops = 3;
inline constexpr Field xid{4, 8};
inline constexpr Field secs{8, 10};
inline constexpr Field flags{10, 12};
inline constexpr Field ciaddr{12, 16};
inline constexpr Field yiaddr{16, 20};
inline constexpr Field siaddr{20, 24};
inline constexpr Field giaddr{24, 28};
inline constexpr Field chaddr{28, 44};
inline constexpr Field sname{44, 108};
inline constexpr Field file{108, 236};
inline constexpr Field magic{236, 240};
}  // namespace field

inline constexpr std::size_t kOptionsOffset = field::magic.end;  // 240
// RFC 1542 §3.2.1: a BOOTP message is at least 300 octets; some relays and servers drop shorter.
inline constexpr std::size_t kMinMessageLen = 300;
// RFC 3396 §5 lets one option grow past 255 octets by repetition; we cap the concatenation.
inline constexpr std::size_t kMaxOptionLen = 1024;

enum class Op : std::uint8_t { BootRequest = 1, BootReply = 2 };

// RFC 2132 §9.6 (and RFC 2131 §3.1): option 53's values.
enum class MessageType : std::uint8_t {
  Discover = 1,
  Offer = 2,
  Request = 3,
  Decline = 4,
  Ack = 5,
  Nak = 6,
  Release = 7,
  Inform = 8,
};
const char* to_string(MessageType t);  // "DHCPDISCOVER"

// Option codes we read or write (RFC 2132 section numbers in brackets).
namespace option {
inline constexpr std::uint8_t kPad = 0;                    // [3.1]
inline constexpr std::uint8_t kSubnetMask = 1;             // [3.3]
inline constexpr std::uint8_t kRouter = 3;                 // [3.5]
inline constexpr std::uint8_t kDnsServer = 6;              // [3.8]
inline constexpr std::uint8_t kHostName = 12;              // [3.14]
inline constexpr std::uint8_t kDomainName = 15;            // [3.17]
inline constexpr std::uint8_t kInterfaceMtu = 26;          // [5.1]
inline constexpr std::uint8_t kBroadcastAddress = 28;      // [5.3]
inline constexpr std::uint8_t kRequestedIp = 50;           // [9.1]
inline constexpr std::uint8_t kLeaseTime = 51;             // [9.2]
inline constexpr std::uint8_t kOverload = 52;              // [9.3]
inline constexpr std::uint8_t kMessageType = 53;           // [9.6]
inline constexpr std::uint8_t kServerId = 54;              // [9.7]
inline constexpr std::uint8_t kParameterRequestList = 55;  // [9.8]
inline constexpr std::uint8_t kMessage = 56;               // [9.9]
inline constexpr std::uint8_t kMaxMessageSize = 57;        // [9.10]
inline constexpr std::uint8_t kRenewalTime = 58;           // [9.11] T1
inline constexpr std::uint8_t kRebindingTime = 59;         // [9.12] T2
inline constexpr std::uint8_t kClientId = 61;              // [9.14]
inline constexpr std::uint8_t kRapidCommit = 80;           // RFC 4039 §4
inline constexpr std::uint8_t kEnd = 255;                  // [3.2]
}  // namespace option

// Why a message was dropped. Stable names: the client counts them ("dhcp.malformed.option_overrun").
enum class ParseError : std::uint8_t {
  TooShort,           // shorter than the 240-byte fixed part + cookie
  BadMagicCookie,     // not 99.130.83.99: plain BOOTP or garbage
  BadOp,              // op is neither BOOTREQUEST nor BOOTREPLY
  BadHardwareType,    // htype/hlen not Ethernet/6
  OptionOverrun,      // an option's length runs past its area
  MissingEnd,         // the options field has no END (RFC 2131 §4.1: it "MUST" end with one)
  BadOverload,        // option 52 not 1..3, not length 1, or repeated inside sname/file
  OptionTooLong,      // RFC 3396 concatenation beyond kMaxOptionLen
  BadOptionLength,    // a fixed-size option with the wrong length, or an empty list
  BadString,          // hostname/domain/message with an embedded NUL or a control byte
  MissingMessageType, // no option 53: plain BOOTP, not DHCP
  BadMessageType,     // option 53 outside 1..8
  BadMtu,             // option 26 below 68 (RFC 2132 §5.1: "The minimum legal value for the MTU is 68")
};
inline constexpr std::size_t kParseErrorCount = static_cast<std::size_t>(ParseError::BadMtu) + 1;
const char* to_string(ParseError e);     // "option length runs past the packet"
const char* counter_name(ParseError e);  // "option_overrun"

// A view over one DHCP message (the UDP payload).
template <class Byte>
class Packet {
 public:
  // Length covers the fixed part and the cookie, and the cookie is DHCP's; every fixed-field
  // accessor is then in bounds. Options are walked by Repr::parse, not here.
  static Result<Packet, ParseError> checked(std::span<Byte> buf) {
    if (buf.size() < kOptionsOffset) return Err{ParseError::TooShort};
    Packet p{buf};
    if (p.magic_cookie() != kMagicCookie) return Err{ParseError::BadMagicCookie};
    return p;
  }
  static Packet unchecked(std::span<Byte> buf) { return Packet{buf}; }

  std::uint8_t op() const { return load_u8(buf_, field::op); }
  std::uint8_t htype() const { return load_u8(buf_, field::htype); }
  std::uint8_t hlen() const { return load_u8(buf_, field::hlen); }
  std::uint8_t hops() const { return load_u8(buf_, field::hops); }
  std::uint32_t xid() const { return load_be32(buf_, field::xid); }
  std::uint16_t secs() const { return load_be16(buf_, field::secs); }
  std::uint16_t flags() const { return load_be16(buf_, field::flags); }
  Ipv4Address ciaddr() const { return load_ipv4(buf_, field::ciaddr.begin); }
  Ipv4Address yiaddr() const { return load_ipv4(buf_, field::yiaddr.begin); }
  Ipv4Address siaddr() const { return load_ipv4(buf_, field::siaddr.begin); }
  Ipv4Address giaddr() const { return load_ipv4(buf_, field::giaddr.begin); }
  // The first six bytes of chaddr (we only speak Ethernet, hlen 6).
  MacAddress chaddr() const { return load_mac(buf_, field::chaddr.begin); }
  std::span<Byte> sname() const { return buf_.subspan(field::sname.begin, field::sname.size()); }
  std::span<Byte> file() const { return buf_.subspan(field::file.begin, field::file.size()); }
  std::uint32_t magic_cookie() const { return load_be32(buf_, field::magic); }
  std::span<Byte> options() const { return buf_.subspan(kOptionsOffset); }
  std::span<Byte> bytes() const { return buf_; }

 private:
  explicit Packet(std::span<Byte> buf) : buf_(buf) {}
  std::span<Byte> buf_;
};
using View = Packet<const std::byte>;
using ViewMut = Packet<std::byte>;

// Every option of a message after RFC 3396 concatenation, by code: the options field first,
// then `file`, then `sname` (RFC 3396 §7 order). PAD and END are not stored.
using OptionMap = std::map<std::uint8_t, Bytes>;
Result<OptionMap, ParseError> parse_options(const View& packet);

// One DHCP message as a plain value. Field names are RFC 2131's.
struct Repr {
  Op op = Op::BootRequest;
  MessageType message_type = MessageType::Discover;
  std::uint32_t xid = 0;
  std::uint16_t secs = 0;
  bool broadcast = false;  // the BROADCAST flag (RFC 2131 §4.1)
  Ipv4Address ciaddr;
  Ipv4Address yiaddr;
  Ipv4Address siaddr;
  Ipv4Address giaddr;
  MacAddress chaddr;

  // --- options (nullopt/empty: absent) ---
  std::optional<Ipv4Address> subnet_mask;       // 1
  std::vector<Ipv4Address> routers;             // 3
  std::vector<Ipv4Address> dns_servers;         // 6
  std::optional<std::string> host_name;         // 12
  std::optional<std::string> domain_name;       // 15
  std::optional<std::uint16_t> mtu;             // 26
  std::optional<Ipv4Address> requested_ip;      // 50
  std::optional<std::uint32_t> lease_time;      // 51, seconds; 0xffffffff is "infinity"
  std::optional<Ipv4Address> server_id;         // 54
  std::vector<std::uint8_t> parameter_request_list;  // 55
  std::optional<std::string> message;           // 56 (a NAK's reason)
  std::optional<std::uint16_t> max_message_size;  // 57
  std::optional<std::uint32_t> renewal_time;    // 58, T1
  std::optional<std::uint32_t> rebinding_time;  // 59, T2
  std::optional<Bytes> client_id;               // 61
  bool rapid_commit = false;                    // 80

  // Validates the cookie, op, hardware type, every option's bounds and every known option's
  // length (docs/hostile-inputs.md #68: a wrong-length option drops the whole message; unknown options
  // are skipped).
  static Result<Repr, ParseError> parse(std::span<const std::byte> message);
  // The encoded size: 240 + options + END, padded to kMinMessageLen.
  std::size_t buffer_len() const;
  // Writes buffer_len() bytes; `out` must be at least that long. Values longer than 255 bytes
  // are split into several options with the same code (RFC 3396 §5).
  void emit(std::span<std::byte> out) const;
  Bytes to_bytes() const;
  // "DHCPACK xid 0x2a1b3c4d yiaddr 10.77.0.135 server 10.77.0.1 lease 3600 s"
  std::string describe() const;
  bool operator==(const Repr&) const = default;
};

constexpr bool is_reply(MessageType t) {
  return t == MessageType::Offer || t == MessageType::Ack || t == MessageType::Nak;
}

}  // namespace stack::wire::dhcpv4
