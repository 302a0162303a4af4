// Domain Name System messages: header, question, resource records, name compression.
//
// Read first: RFC 1035 §4.1 (message format: §4.1.1 header, §4.1.2 question, §4.1.3 resource
// record, §4.1.4 compression), §3.1 (names: labels of 1–63 octets, at most 255 octets in all),
// §3.3.1 CNAME, §3.3.11 NS, §3.3.13 SOA, §3.4.1 A; RFC 1034 §3.6.2 (aliases: CNAME chains),
// §4.3.2 (how a server answers: referrals in AUTHORITY, glue in ADDITIONAL), §5.3.3 (the
// resolver's algorithm: follow referrals, restart at the CNAME target); RFC 2308 §2 (negative
// answers: NXDOMAIN/NODATA with the SOA in AUTHORITY); RFC 6891 §6.1 (the OPT pseudo-record);
// RFC 9267 (the hostile-input checklist this parser follows; docs/hostile-inputs.md #74–#79).
//
//                                  1  1  1  1  1  1
//    0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
//  +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//  |                      ID                       |   0
//  |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |   2
//  |                    QDCOUNT                    |   4
//  |                    ANCOUNT                    |   6
//  |                    NSCOUNT                    |   8
//  |                    ARCOUNT                    |  10
//  +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//  question (QDCOUNT × {QNAME, QTYPE, QCLASS}), then answer, authority, additional RRs:
//  {NAME, TYPE, CLASS, TTL (32), RDLENGTH, RDATA}.
//
// Parsing is bounded: every count, length and pointer is checked against the message before it
// is trusted; compression pointers must go strictly backwards (each jump lands before the
// previous one) and outside the header, so a chain ends within the message length; names are
// capped at 255 octets (RFC 1035 §3.1) whatever the route; RDATA must be consumed exactly.
// Emission never compresses (RFC 1035 §4.1.4 makes compression optional for senders).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "stack/util/bytes.hpp"
#include "stack/util/result.hpp"
#include "stack/wire/ip_address.hpp"

namespace stack::wire::dns {

inline constexpr std::size_t kHeaderLen = 12;
inline constexpr std::size_t kMaxNameLen = 255;   // RFC 1035 §3.1, wire octets incl. the root label
inline constexpr std::size_t kMaxLabelLen = 63;   // RFC 1035 §2.3.4
inline constexpr std::uint16_t kPort = 53;
inline constexpr std::size_t kMaxUdpPayload = 512;  // RFC 1035 §4.2.1, without EDNS

namespace field {
inline constexpr Field id{0, 2};
inline constexpr Field flags{2, 4};
inline constexpr Field qdcount{4, 6};
inline constexpr Field ancount{6, 8};
inline constexpr Field nscount{8, 10};
inline constexpr Field arcount{10, 12};
}  // namespace field

// RFC 1035 §3.2.2 / IANA: the types this stack understands; others are kept as opaque RDATA.
enum class Type : std::uint16_t { A = 1, Ns = 2, Cname = 5, Soa = 6, Ptr = 12, Mx = 15, Txt = 16, Aaaa = 28, Opt = 41 };
inline constexpr std::uint16_t kClassIn = 1;
std::string type_name(std::uint16_t type);  // "A", "NS", …, "TYPE99" (RFC 3597 §5)
std::string class_name(std::uint16_t cls);  // "IN", "CLASS3"

// RFC 1035 §4.1.1 RCODE (plus RFC 2136's NOTAUTH etc. by number).
enum class Rcode : std::uint8_t { NoError = 0, FormErr = 1, ServFail = 2, NxDomain = 3, NotImp = 4, Refused = 5 };
std::string rcode_name(std::uint8_t rcode);  // "NOERROR", "NXDOMAIN", "RCODE11"

// A domain name as a sequence of labels (without the empty root label). Labels are kept as the
// octets the message carried (case preserved, RFC 4343); comparisons ignore ASCII case.
class Name {
 public:
  Name() = default;  // the root "."
  // Presentation form: "www.domain.com", "www.domain.com." or "."; "\." and "\DDD" escapes
  // (RFC 1035 §5.1). nullopt for empty labels, labels over 63 octets or names over 255.
  static std::optional<Name> parse(std::string_view text);
  static std::optional<Name> from_labels(std::vector<std::string> labels);

  const std::vector<std::string>& labels() const { return labels_; }
  bool is_root() const { return labels_.empty(); }
  std::size_t wire_len() const;  // octets in uncompressed wire form, incl. the root label
  // "www.domain.com." with RFC 1035 §5.1 escapes for dots, backslashes and non-printables.
  std::string describe() const;
  // Without the trailing dot ("www.domain.com"; the root stays ".").
  std::string describe_relative() const;
  // Lower-case ASCII key for maps and comparisons.
  std::string key() const;
  // This name equals `zone` or lies below it ("www.domain.com" in "com").
  bool is_within(const Name& zone) const;
  Name parent() const;  // drops the leftmost label (root stays root)

  bool operator==(const Name& o) const;  // ASCII case-insensitive (RFC 4343 §3)

 private:
  explicit Name(std::vector<std::string> labels) : labels_(std::move(labels)) {}
  std::vector<std::string> labels_;
};

struct Header {
  std::uint16_t id = 0;
  bool qr = false;  // response
  std::uint8_t opcode = 0;
  bool aa = false;  // authoritative answer
  bool tc = false;  // truncated
  bool rd = false;  // recursion desired
  bool ra = false;  // recursion available
  bool ad = false;
  bool cd = false;
  std::uint8_t rcode = 0;
  std::uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;

  std::uint16_t flags() const;
  static Header from_flags(std::uint16_t id, std::uint16_t flags);
  bool operator==(const Header&) const = default;
};

struct Question {
  Name name;
  std::uint16_t type = static_cast<std::uint16_t>(Type::A);
  std::uint16_t cls = kClassIn;
  bool operator==(const Question&) const = default;
};

namespace rdata {
struct A {
  Ipv4Address address;
  bool operator==(const A&) const = default;
};
struct Ns {
  Name host;
  bool operator==(const Ns&) const = default;
};
struct Cname {
  Name target;
  bool operator==(const Cname&) const = default;
};
struct Soa {
  Name mname, rname;
  std::uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;
  bool operator==(const Soa&) const = default;
};
// RFC 1035 §3.3.12 and §3.3.9: both are RFC 1035 types, so their names may be compressed.
struct Ptr {
  Name target;
  bool operator==(const Ptr&) const = default;
};
struct Mx {
  std::uint16_t preference = 0;
  Name exchange;
  bool operator==(const Mx&) const = default;
};
// Any other type (AAAA, TXT, OPT, …): the RDATA octets as carried. Names inside them stay
// compressed and are not followed (RFC 3597 §4: only well-known types may be compressed).
struct Opaque {
  Bytes data;
  bool operator==(const Opaque&) const = default;
};
}  // namespace rdata
using RData = std::variant<rdata::A, rdata::Ns, rdata::Cname, rdata::Soa, rdata::Ptr, rdata::Mx, rdata::Opaque>;

struct Record {
  Name name;
  std::uint16_t type = 0;
  std::uint16_t cls = kClassIn;  // for OPT: the requestor's UDP payload size (RFC 6891 §6.1.2)
  std::uint32_t ttl = 0;
  RData data;
  // dig's layout: "www.domain.com.\t3600\tIN\tA\t203.0.113.80".
  std::string describe() const;
  std::string describe_rdata() const;
  bool operator==(const Record&) const = default;
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<Record> answers;
  std::vector<Record> authority;
  std::vector<Record> additional;

  Rcode rcode() const { return static_cast<Rcode>(header.rcode); }
  // tcpdump's one line: "4084+ [1au] A? www.lab.test." / "4084* 1/0/1 A 10.77.0.80".
  std::string describe() const;
  // Uncompressed wire form (counts taken from the vectors).
  Bytes emit() const;
  bool operator==(const Message&) const = default;
};

enum class ParseError : std::uint8_t {
  TooShort,          // fewer than 12 octets
  Truncated,         // a name, question or record runs past the end (counts that lie: RFC 9267 §6)
  BadPointer,        // compression pointer into the header, forward, or not strictly backwards
  TooManyPointers,   // hop limit (defence in depth; the backwards rule already bounds it)
  ReservedLabelType, // label length byte 0x40–0xBF (RFC 1035 §4.1.4, RFC 6891 §5)
  NameTooLong,       // over 255 octets (RFC 1035 §3.1)
  BadRdLength,       // RDATA not consumed exactly (A of 3 or 5 octets, a name past RDLENGTH)
  TrailingBytes,     // octets after the last counted record
};
const char* to_string(ParseError e);

// Parses a whole message. Every malformed case is an error, never a partial message.
Result<Message, ParseError> parse(std::span<const std::byte> message);
// Only the header (12 octets); for quick filtering.
std::optional<Header> parse_header(std::span<const std::byte> message);
// A name at `offset` in `message` (pointers resolved); sets `end` to the octet after the name
// as it sits at `offset` (after the first pointer, if any).
Result<Name, ParseError> parse_name(std::span<const std::byte> message, std::size_t offset, std::size_t& end);

// A standard query (opcode QUERY, one question). `rd`: recursion desired (RFC 1035 §4.1.1); off
// for the iterative walk, as `dig +trace` does. `edns_payload` > 0 adds an OPT record advertising it.
Bytes build_query(std::uint16_t id, const Name& name, std::uint16_t type, bool rd, std::uint16_t edns_payload = 0);

// The question matches (RFC 5452 §9.1: name case-insensitively, type and class).
bool same_question(const Message& query_or_reply, const Question& q);

}  // namespace stack::wire::dns
