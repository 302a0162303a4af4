#include "stack/wire/icmpv4.hpp"

#include <algorithm>
#include <cassert>

namespace stack::wire::icmpv4 {

namespace {

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) { return std::ranges::equal(a, b); }

struct Quote {
  ipv4::Repr header;
  std::span<const std::byte> data;
};

// The offending datagram inside an error message. Its header must be a plausible IPv4 header
// whose options fit in what was quoted; its total_len need not fit (RFC 792 quotes only a prefix).
std::optional<Quote> parse_quote(std::span<const std::byte> quoted) {
  const auto ip = ipv4::View::checked_prefix(quoted);
  if (!ip) return std::nullopt;
  const ipv4::Repr header = ipv4::Repr::parse(*ip);
  const std::span<const std::byte> data = ip->payload();
  // RFC 792 asks for 64 bits of the original data; a datagram with less payload than that can
  // only be quoted whole. Anything shorter is truncated (docs/hostile-inputs.md #26) and dropped.
  if (data.size() < std::min(kMinQuotedData, header.payload_len)) return std::nullopt;
  return Quote{header, data};
}

// Writes `header` + `data` after the 8-byte ICMP header.
void emit_quote(ViewMut& packet, const ipv4::Repr& header, std::span<const std::byte> data) {
  const std::span<std::byte> out = packet.data();
  auto ip = ipv4::ViewMut::unchecked(out.first(ipv4::Repr::header_len()));
  header.emit(ip);
  std::ranges::copy(data, out.subspan(ipv4::Repr::header_len()).begin());
}

std::string unreachable_text(const DestUnreachable& m) {
  const std::string dst = m.header.dst.describe();
  // The quoted transport header starts with the source and destination ports (UDP and TCP alike).
  const bool have_ports = m.data.size() >= 4;
  const std::string port = have_ports ? std::to_string(load_be16(m.data, 2)) : "?";
  // Texts follow tcpdump's print-icmp.c so traces read the same as a capture.
  switch (m.code) {
    case UnreachableCode::Net: return "net " + dst + " unreachable";
    case UnreachableCode::Host: return "host " + dst + " unreachable";
    case UnreachableCode::Protocol:
      return dst + " protocol " + std::to_string(static_cast<unsigned>(m.header.protocol)) + " unreachable";
    case UnreachableCode::Port:
      if (m.header.protocol == IpProtocol::Udp) return dst + " udp port " + port + " unreachable";
      if (m.header.protocol == IpProtocol::Tcp) return dst + " tcp port " + port + " unreachable";
      return dst + " protocol " + std::to_string(static_cast<unsigned>(m.header.protocol)) + " port " + port +
             " unreachable";
    case UnreachableCode::FragNeeded:
      if (m.next_hop_mtu == 0) return dst + " unreachable - need to frag";
      return dst + " unreachable - need to frag (mtu " + std::to_string(m.next_hop_mtu) + ")";
    case UnreachableCode::SourceRouteFailed: return dst + " unreachable - source route failed";
    case UnreachableCode::NetUnknown: return "net " + dst + " unreachable - unknown";
    case UnreachableCode::HostUnknown: return "host " + dst + " unreachable - unknown";
    case UnreachableCode::SourceHostIsolated: return dst + " unreachable - source host isolated";
    case UnreachableCode::NetProhibited: return "net " + dst + " unreachable - admin prohibited";
    case UnreachableCode::HostProhibited: return "host " + dst + " unreachable - admin prohibited";
    case UnreachableCode::NetTos: return "net " + dst + " unreachable - tos prohibited";
    case UnreachableCode::HostTos: return "host " + dst + " unreachable - tos prohibited";
    case UnreachableCode::AdminProhibited: return "host " + dst + " unreachable - admin prohibited filter";
    case UnreachableCode::HostPrecedenceViolation: return "host " + dst + " unreachable - host precedence violation";
    case UnreachableCode::PrecedenceCutoff: return "host " + dst + " unreachable - precedence cutoff";
  }
  return dst + " unreachable - code " + std::to_string(static_cast<unsigned>(m.code));
}

}  // namespace

bool EchoRequest::operator==(const EchoRequest& o) const {
  return ident == o.ident && seq_no == o.seq_no && same_bytes(data, o.data);
}
bool EchoReply::operator==(const EchoReply& o) const {
  return ident == o.ident && seq_no == o.seq_no && same_bytes(data, o.data);
}
bool DestUnreachable::operator==(const DestUnreachable& o) const {
  return code == o.code && next_hop_mtu == o.next_hop_mtu && header == o.header && same_bytes(data, o.data);
}
bool TimeExceeded::operator==(const TimeExceeded& o) const {
  return code == o.code && header == o.header && same_bytes(data, o.data);
}
bool Repr::operator==(const Repr& o) const { return message == o.message; }

std::optional<Repr> Repr::parse(const View& packet) {
  const std::uint8_t code = packet.code();
  switch (packet.type()) {
    case Type::EchoRequest:
    case Type::EchoReply: {
      // RFC 792 defines only code 0 for echo.
      if (code != 0) return std::nullopt;
      if (packet.type() == Type::EchoRequest) {
        return Repr{EchoRequest{packet.ident(), packet.seq_no(), packet.data()}};
      }
      return Repr{EchoReply{packet.ident(), packet.seq_no(), packet.data()}};
    }
    case Type::DestUnreachable: {
      if (code > kMaxUnreachableCode) return std::nullopt;
      const auto quote = parse_quote(packet.data());
      if (!quote) return std::nullopt;
      return Repr{DestUnreachable{static_cast<UnreachableCode>(code), packet.next_hop_mtu(), quote->header, quote->data}};
    }
    case Type::TimeExceeded: {
      if (code != kTtlExceededInTransit && code != kFragReassemblyExceeded) return std::nullopt;
      const auto quote = parse_quote(packet.data());
      if (!quote) return std::nullopt;
      return Repr{TimeExceeded{code, quote->header, quote->data}};
    }
  }
  return std::nullopt;
}

std::size_t Repr::buffer_len() const {
  struct Len {
    std::size_t operator()(const EchoRequest& m) const { return kHeaderLen + m.data.size(); }
    std::size_t operator()(const EchoReply& m) const { return kHeaderLen + m.data.size(); }
    std::size_t operator()(const DestUnreachable& m) const {
      return kHeaderLen + ipv4::Repr::header_len() + m.data.size();
    }
    std::size_t operator()(const TimeExceeded& m) const {
      return kHeaderLen + ipv4::Repr::header_len() + m.data.size();
    }
  };
  return std::visit(Len{}, message);
}

void Repr::emit(ViewMut& whole) const {
  assert(whole.bytes().size() >= buffer_len());
  auto packet = ViewMut::unchecked(whole.bytes().first(buffer_len()));
  struct Emit {
    ViewMut& p;
    void operator()(const EchoRequest& m) const { echo(Type::EchoRequest, m.ident, m.seq_no, m.data); }
    void operator()(const EchoReply& m) const { echo(Type::EchoReply, m.ident, m.seq_no, m.data); }
    void operator()(const DestUnreachable& m) const {
      p.set_type(Type::DestUnreachable);
      p.set_code(static_cast<std::uint8_t>(m.code));
      p.set_rest_of_header(m.next_hop_mtu);  // high 16 bits "unused", must be zero (RFC 792)
      emit_quote(p, m.header, m.data);
    }
    void operator()(const TimeExceeded& m) const {
      p.set_type(Type::TimeExceeded);
      p.set_code(m.code);
      p.set_rest_of_header(0);
      emit_quote(p, m.header, m.data);
    }
    void echo(Type t, std::uint16_t ident, std::uint16_t seq_no, std::span<const std::byte> data) const {
      p.set_type(t);
      p.set_code(0);
      p.set_ident(ident);
      p.set_seq_no(seq_no);
      std::ranges::copy(data, p.data().begin());
    }
  };
  std::visit(Emit{packet}, message);
  packet.fill_checksum();
}

std::string Repr::describe(std::size_t message_len) const {
  struct Text {
    std::string operator()(const EchoRequest& m) const {
      return "echo request, id " + std::to_string(m.ident) + ", seq " + std::to_string(m.seq_no);
    }
    std::string operator()(const EchoReply& m) const {
      return "echo reply, id " + std::to_string(m.ident) + ", seq " + std::to_string(m.seq_no);
    }
    std::string operator()(const DestUnreachable& m) const { return unreachable_text(m); }
    std::string operator()(const TimeExceeded& m) const {
      return m.code == kTtlExceededInTransit ? "time exceeded in-transit" : "ip reassembly time exceeded";
    }
  };
  return "ICMP " + std::visit(Text{}, message) + ", length " + std::to_string(message_len);
}

}  // namespace stack::wire::icmpv4
