#include "stack/wire/dhcpv4.hpp"

#include <algorithm>

namespace stack::wire::dhcpv4 {

const char* to_string(MessageType t) {
  switch (t) {
    case MessageType::Discover: return "DHCPDISCOVER";
    case MessageType::Offer: return "DHCPOFFER";
    case MessageType::Request: return "DHCPREQUEST";
    case MessageType::Decline: return "DHCPDECLINE";
    case MessageType::Ack: return "DHCPACK";
    case MessageType::Nak: return "DHCPNAK";
    case MessageType::Release: return "DHCPRELEASE";
    case MessageType::Inform: return "DHCPINFORM";
  }
  return "DHCP?";
}

const char* to_string(ParseError e) {
  switch (e) {
    case ParseError::TooShort: return "message shorter than 240 bytes";
    case ParseError::BadMagicCookie: return "bad magic cookie";
    case ParseError::BadOp: return "bad op";
    case ParseError::BadHardwareType: return "not Ethernet (htype/hlen)";
    case ParseError::OptionOverrun: return "option length runs past the packet";
    case ParseError::MissingEnd: return "options without END";
    case ParseError::BadOverload: return "bad option overload (52)";
    case ParseError::OptionTooLong: return "concatenated option too long";
    case ParseError::BadOptionLength: return "option with a wrong length";
    case ParseError::BadString: return "option string with NUL or control bytes";
    case ParseError::MissingMessageType: return "no message type (53)";
    case ParseError::BadMessageType: return "unknown message type";
    case ParseError::BadMtu: return "interface MTU below 68";
  }
  return "unknown DHCP parse error";
}

const char* counter_name(ParseError e) {
  switch (e) {
    case ParseError::TooShort: return "too_short";
    case ParseError::BadMagicCookie: return "bad_magic_cookie";
    case ParseError::BadOp: return "bad_op";
    case ParseError::BadHardwareType: return "bad_hardware_type";
    case ParseError::OptionOverrun: return "option_overrun";
    case ParseError::MissingEnd: return "missing_end";
    case ParseError::BadOverload: return "bad_overload";
    case ParseError::OptionTooLong: return "option_too_long";
    case ParseError::BadOptionLength: return "bad_option_length";
    case ParseError::BadString: return "bad_string";
    case ParseError::MissingMessageType: return "missing_message_type";
    case ParseError::BadMessageType: return "bad_message_type";
    case ParseError::BadMtu: return "bad_mtu";
  }
  return "unknown";
}

namespace {

enum class Area { Options, File, Sname };

// Walks one option area once, appending each option's data to `out` (RFC 3396 §7: "the
// contents of the split option are concatenated"). Bounded by `area`'s size; never recursive.
// `found_end` reports whether END terminated the walk.
std::optional<ParseError> walk(std::span<const std::byte> area, Area which, OptionMap& out, bool& found_end) {
  found_end = false;
  std::size_t i = 0;
  while (i < area.size()) {
    const std::uint8_t code = load_u8(area, i);
    if (code == option::kPad) {  // RFC 2132 §3.1: one octet, no length
      ++i;
      continue;
    }
    if (code == option::kEnd) {
      found_end = true;
      return std::nullopt;
    }
    if (i + 1 >= area.size()) return ParseError::OptionOverrun;  // no room for the length octet
    const std::size_t len = load_u8(area, i + 1);
    if (i + 2 + len > area.size()) return ParseError::OptionOverrun;
    // RFC 2132 §9.3: option 52 belongs in the options field only; inside sname/file it would
    // invite a second level of overloading (docs/hostile-inputs.md #69).
    if (code == option::kOverload && which != Area::Options) return ParseError::BadOverload;
    Bytes& data = out[code];
    if (data.size() + len > kMaxOptionLen) return ParseError::OptionTooLong;
    const auto first = area.begin() + static_cast<std::ptrdiff_t>(i + 2);
    data.insert(data.end(), first, first + static_cast<std::ptrdiff_t>(len));
    i += 2 + len;
  }
  return std::nullopt;
}

Ipv4Address ipv4_at(const Bytes& b, std::size_t at) { return load_ipv4(b, at); }

// A fixed-size option: exactly `len` octets, or the message is rejected.
std::optional<ParseError> want_len(const Bytes& b, std::size_t len) {
  return b.size() == len ? std::nullopt : std::optional{ParseError::BadOptionLength};
}

// A list of addresses (routers, DNS servers): at least one, a multiple of 4 (RFC 2132 §3.5:
// "The minimum length for the router option is 4 octets, and the length MUST always be a
// multiple of 4"; smoltcp PR #562 found the missing check by fuzzing).
Result<std::vector<Ipv4Address>, ParseError> address_list(const Bytes& b) {
  if (b.empty() || b.size() % 4 != 0) return Err{ParseError::BadOptionLength};
  std::vector<Ipv4Address> out;
  for (std::size_t i = 0; i < b.size(); i += 4) out.push_back(ipv4_at(b, i));
  return out;
}

// NVT ASCII strings (RFC 2132 §3.14, §3.17, §9.9). Servers sometimes NUL-terminate them although
// RFC 2132 §2 says they "SHOULD NOT": trailing NULs are stripped, an embedded NUL or control byte
// rejects the message (Ripple20 CVE-2020-11908; strings here never reach a shell, but narration
// prints them).
Result<std::string, ParseError> nvt_string(const Bytes& b) {
  std::size_t n = b.size();
  while (n > 0 && b[n - 1] == std::byte{0}) --n;
  if (n == 0) return Err{ParseError::BadOptionLength};  // RFC 2132: minimum length 1
  std::string s;
  s.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(b[i]);
    if (c < 0x20 || c > 0x7e) return Err{ParseError::BadString};
    s.push_back(static_cast<char>(c));
  }
  return s;
}

}  // namespace

Result<OptionMap, ParseError> parse_options(const View& packet) {
  OptionMap map;
  bool found_end = false;
  if (auto e = walk(packet.options(), Area::Options, map, found_end)) return Err{*e};
  // RFC 2131 §4.1 / RFC 2132 §3.2: the options field ends with END. lwIP drops a NAK without
  // one (test_dhcp_nak_no_endmarker); so do we, for every message.
  if (!found_end) return Err{ParseError::MissingEnd};

  // RFC 2132 §9.3: option 52 says sname (2), file (1) or both (3) hold options too; they are
  // read after the options field, file before sname (RFC 3396 §7). Within those fixed fields a
  // missing END is tolerated: the field's own length bounds the walk.
  if (auto it = map.find(option::kOverload); it != map.end()) {
    if (it->second.size() != 1) return Err{ParseError::BadOverload};
    const std::uint8_t overload = static_cast<std::uint8_t>(it->second[0]);
    if (overload < 1 || overload > 3) return Err{ParseError::BadOverload};
    if (overload & 1) {
      if (auto e = walk(packet.file(), Area::File, map, found_end)) return Err{*e};
    }
    if (overload & 2) {
      if (auto e = walk(packet.sname(), Area::Sname, map, found_end)) return Err{*e};
    }
  }
  return map;
}

Result<Repr, ParseError> Repr::parse(std::span<const std::byte> message) {
  auto checked = View::checked(message);
  if (!checked) return Err{checked.error()};
  const View& v = *checked;
  if (v.op() != 1 && v.op() != 2) return Err{ParseError::BadOp};
  if (v.htype() != kHtypeEthernet || v.hlen() != 6) return Err{ParseError::BadHardwareType};

  auto options = parse_options(v);
  if (!options) return Err{options.error()};

  Repr r;
  r.op = static_cast<Op>(v.op());
  r.xid = v.xid();
  r.secs = v.secs();
  r.broadcast = (v.flags() & kFlagBroadcast) != 0;
  r.ciaddr = v.ciaddr();
  r.yiaddr = v.yiaddr();
  r.siaddr = v.siaddr();
  r.giaddr = v.giaddr();
  r.chaddr = v.chaddr();

  const OptionMap& map = *options;
  auto type = map.find(option::kMessageType);
  if (type == map.end()) return Err{ParseError::MissingMessageType};
  if (auto e = want_len(type->second, 1)) return Err{*e};
  const auto t = static_cast<std::uint8_t>(type->second[0]);
  if (t < 1 || t > 8) return Err{ParseError::BadMessageType};
  r.message_type = static_cast<MessageType>(t);

  for (const auto& [code, data] : map) {
    std::optional<ParseError> bad;
    switch (code) {
      case option::kSubnetMask:
        if (!(bad = want_len(data, 4))) r.subnet_mask = ipv4_at(data, 0);
        break;
      case option::kRouter:
      case option::kDnsServer: {
        auto list = address_list(data);
        if (!list) {
          bad = list.error();
        } else {
          (code == option::kRouter ? r.routers : r.dns_servers) = std::move(*list);
        }
        break;
      }
      case option::kHostName:
      case option::kDomainName:
      case option::kMessage: {
        auto s = nvt_string(data);
        if (!s) {
          bad = s.error();
        } else if (code == option::kHostName) {
          r.host_name = std::move(*s);
        } else if (code == option::kDomainName) {
          r.domain_name = std::move(*s);
        } else {
          r.message = std::move(*s);
        }
        break;
      }
      case option::kInterfaceMtu:
        if (!(bad = want_len(data, 2))) {
          r.mtu = load_be16(data, 0);
          if (*r.mtu < 68) bad = ParseError::BadMtu;
        }
        break;
      case option::kRequestedIp:
        if (!(bad = want_len(data, 4))) r.requested_ip = ipv4_at(data, 0);
        break;
      case option::kLeaseTime:
        if (!(bad = want_len(data, 4))) r.lease_time = load_be32(data, 0);
        break;
      case option::kServerId:
        if (!(bad = want_len(data, 4))) r.server_id = ipv4_at(data, 0);
        break;
      case option::kParameterRequestList:
        if (data.empty()) bad = ParseError::BadOptionLength;
        for (std::byte b : data) r.parameter_request_list.push_back(static_cast<std::uint8_t>(b));
        break;
      case option::kMaxMessageSize:
        // RFC 2132 §9.10: "The minimum legal value is 576 octets"; an out-of-range value is the
        // client's problem, not a reason to drop it here.
        if (!(bad = want_len(data, 2))) r.max_message_size = load_be16(data, 0);
        break;
      case option::kRenewalTime:
        if (!(bad = want_len(data, 4))) r.renewal_time = load_be32(data, 0);
        break;
      case option::kRebindingTime:
        if (!(bad = want_len(data, 4))) r.rebinding_time = load_be32(data, 0);
        break;
      case option::kClientId:
        // RFC 2132 §9.14: "The minimum length is 2" (type + at least one octet).
        if (data.size() < 2) bad = ParseError::BadOptionLength;
        else r.client_id = data;
        break;
      case option::kRapidCommit:
        // RFC 4039 §4: "Len: 0".
        if (!(bad = want_len(data, 0))) r.rapid_commit = true;
        break;
      default:
        break;  // message type (done above), overload (done in parse_options), or not ours
    }
    if (bad) return Err{*bad};
  }
  return r;
}

namespace {

// Appends options to a growing buffer, one TLV at a time.
class OptionWriter {
 public:
  explicit OptionWriter(Bytes& out) : out_(out) {}
  void raw(std::uint8_t code, std::span<const std::byte> data) {
    // RFC 3396 §5: a value over 255 octets is split into several options with the same code.
    std::size_t at = 0;
    do {
      const std::size_t n = std::min<std::size_t>(255, data.size() - at);
      out_.push_back(std::byte{code});
      out_.push_back(static_cast<std::byte>(n));
      out_.insert(out_.end(), data.begin() + static_cast<std::ptrdiff_t>(at),
                  data.begin() + static_cast<std::ptrdiff_t>(at + n));
      at += n;
    } while (at < data.size());
  }
  void u8(std::uint8_t code, std::uint8_t v) { raw(code, std::array{std::byte{v}}); }
  void u16(std::uint8_t code, std::uint16_t v) {
    std::array<std::byte, 2> b{};
    store_be16(b, 0, v);
    raw(code, b);
  }
  void u32(std::uint8_t code, std::uint32_t v) {
    std::array<std::byte, 4> b{};
    store_be32(b, 0, v);
    raw(code, b);
  }
  void addr(std::uint8_t code, Ipv4Address a) { u32(code, a.value); }
  void addrs(std::uint8_t code, const std::vector<Ipv4Address>& list) {
    if (list.empty()) return;
    Bytes b(list.size() * 4);
    for (std::size_t i = 0; i < list.size(); ++i) store_ipv4(b, i * 4, list[i]);
    raw(code, b);
  }
  void text(std::uint8_t code, const std::string& s) {
    raw(code, to_bytes(s));  // over 255 bytes: split (RFC 3396 §5)
  }

 private:
  Bytes& out_;
};

Bytes encode_options(const Repr& r) {
  Bytes out;
  OptionWriter w(out);
  // RFC 2131 §4.1 puts no order on options; message type first is what every client does and
  // what makes a capture readable.
  w.u8(option::kMessageType, static_cast<std::uint8_t>(r.message_type));
  if (r.client_id) w.raw(option::kClientId, *r.client_id);
  if (r.requested_ip) w.addr(option::kRequestedIp, *r.requested_ip);
  if (r.server_id) w.addr(option::kServerId, *r.server_id);
  if (r.lease_time) w.u32(option::kLeaseTime, *r.lease_time);
  if (r.renewal_time) w.u32(option::kRenewalTime, *r.renewal_time);
  if (r.rebinding_time) w.u32(option::kRebindingTime, *r.rebinding_time);
  if (r.subnet_mask) w.addr(option::kSubnetMask, *r.subnet_mask);
  w.addrs(option::kRouter, r.routers);
  w.addrs(option::kDnsServer, r.dns_servers);
  if (r.host_name) w.text(option::kHostName, *r.host_name);
  if (r.domain_name) w.text(option::kDomainName, *r.domain_name);
  if (r.mtu) w.u16(option::kInterfaceMtu, *r.mtu);
  if (!r.parameter_request_list.empty()) {
    Bytes prl;
    for (std::uint8_t c : r.parameter_request_list) prl.push_back(std::byte{c});
    w.raw(option::kParameterRequestList, prl);
  }
  if (r.max_message_size) w.u16(option::kMaxMessageSize, *r.max_message_size);
  if (r.message) w.text(option::kMessage, *r.message);
  if (r.rapid_commit) w.raw(option::kRapidCommit, {});
  out.push_back(std::byte{option::kEnd});
  return out;
}

}  // namespace

std::size_t Repr::buffer_len() const {
  return std::max(kMinMessageLen, kOptionsOffset + encode_options(*this).size());
}

void Repr::emit(std::span<std::byte> out) const {
  const Bytes options = encode_options(*this);
  const std::size_t len = std::max(kMinMessageLen, kOptionsOffset + options.size());
  std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(len), std::byte{0});
  store_u8(out, field::op, static_cast<std::uint8_t>(op));
  store_u8(out, field::htype, kHtypeEthernet);
  store_u8(out, field::hlen, 6);
  store_u8(out, field::hops, 0);
  store_be32(out, field::xid, xid);
  store_be16(out, field::secs, secs);
  store_be16(out, field::flags, broadcast ? kFlagBroadcast : 0);
  store_ipv4(out, field::ciaddr.begin, ciaddr);
  store_ipv4(out, field::yiaddr.begin, yiaddr);
  store_ipv4(out, field::siaddr.begin, siaddr);
  store_ipv4(out, field::giaddr.begin, giaddr);
  store_mac(out, field::chaddr.begin, chaddr);  // the other 10 octets of chaddr stay zero
  store_be32(out, field::magic, kMagicCookie);
  std::copy(options.begin(), options.end(), out.begin() + static_cast<std::ptrdiff_t>(kOptionsOffset));
}

Bytes Repr::to_bytes() const {
  Bytes out(buffer_len());
  emit(out);
  return out;
}

std::string Repr::describe() const {
  char xid_hex[11];
  static constexpr char kHex[] = "0123456789abcdef";
  xid_hex[0] = '0';
  xid_hex[1] = 'x';
  for (int i = 0; i < 8; ++i) xid_hex[2 + i] = kHex[(xid >> (28 - 4 * i)) & 0xf];
  xid_hex[10] = '\0';
  std::string s = std::string(to_string(message_type)) + " xid " + xid_hex;
  if (op == Op::BootRequest) s += " from " + chaddr.describe();
  if (broadcast) s += " [B]";
  if (!ciaddr.is_unspecified()) s += " ciaddr " + ciaddr.describe();
  if (!yiaddr.is_unspecified()) s += " yiaddr " + yiaddr.describe();
  if (requested_ip) s += " requested " + requested_ip->describe();
  if (server_id) s += " server " + server_id->describe();
  if (lease_time) s += " lease " + std::to_string(*lease_time) + " s";
  if (rapid_commit) s += " rapid-commit";
  if (message) s += " \"" + *message + "\"";
  return s;
}

}  // namespace stack::wire::dhcpv4
