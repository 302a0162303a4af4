#include "stack/wire/describe.hpp"

#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmpv4.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"

namespace stack::wire {

namespace {

std::string hex16(std::uint16_t v) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) s += kHex[(v >> shift) & 0xf];
  return s;
}

std::string with_port(Ipv4Address a, std::uint16_t port) { return a.describe() + "." + std::to_string(port); }

std::string addresses(const ipv4::Repr& ip) { return ip.src.describe() + " > " + ip.dst.describe() + ":"; }

std::string describe_icmp(const ipv4::Repr& ip, std::span<const std::byte> payload) {
  const auto packet = icmpv4::View::checked(payload);
  if (!packet) return addresses(ip) + " [|icmp]";
  if (const auto repr = icmpv4::Repr::parse(*packet)) return addresses(ip) + " " + repr->describe(payload.size());
  switch (packet->type()) {
    case icmpv4::Type::EchoRequest:
    case icmpv4::Type::EchoReply:
    case icmpv4::Type::DestUnreachable:
    case icmpv4::Type::TimeExceeded:
      // A type we know whose body did not parse: an unknown code or a truncated quote.
      return addresses(ip) + " ICMP type-#" + std::to_string(static_cast<unsigned>(packet->type())) + " code-#" +
             std::to_string(packet->code()) + " [|icmp], length " + std::to_string(payload.size());
  }
  return addresses(ip) + " ICMP type-#" + std::to_string(static_cast<unsigned>(packet->type())) + ", length " +
         std::to_string(payload.size());
}

// `fragmented`: the first fragment of a larger datagram, whose UDP length covers bytes that
// arrive in later fragments.
std::string describe_udp(const ipv4::Repr& ip, std::span<const std::byte> payload, bool fragmented) {
  if (payload.size() < udp::kHeaderLen) return addresses(ip) + " [|udp]";
  const auto header = udp::View::unchecked(payload);  // the 8 header bytes are present
  const std::string ports =
      with_port(ip.src, header.src_port()) + " > " + with_port(ip.dst, header.dst_port()) + ":";
  const std::size_t length = header.length();
  if (length < udp::kHeaderLen) return ports + " truncated-udplength " + std::to_string(length);
  if (length > payload.size() && !fragmented) {
    return ports + " UDP, bad length " + std::to_string(length) + " > " + std::to_string(payload.size());
  }
  return ports + " UDP, length " + std::to_string(length - udp::kHeaderLen);
}

// tcpdump -n -S style (absolute sequence numbers: a one-line describer keeps no per-flow state):
// "10.77.0.74.57696 > 203.0.113.80.80: Flags [S], seq 4255675355, win 64240, options [...], length 0".
std::string describe_tcp(const ipv4::Repr& ip, std::span<const std::byte> payload) {
  if (payload.size() < 4) return addresses(ip) + " [|tcp]";
  const std::string ports = with_port(ip.src, load_be16(payload, 0)) + " > " + with_port(ip.dst, load_be16(payload, 2)) + ":";
  auto view = tcp::View::checked(payload);
  if (!view) return ports + " [bad tcp header, " + std::to_string(payload.size()) + " bytes]";
  auto repr = tcp::Repr::parse(*view);
  if (!repr) return ports + " [bad tcp options]";
  return ports + " " + repr->describe();
}

std::string describe_ip_payload(const ipv4::Repr& ip, std::span<const std::byte> payload) {
  // Only the first fragment carries the transport header; tcpdump names the rest by protocol.
  if (ip.frag_offset != 0) return addresses(ip) + " ip-proto-" + std::to_string(static_cast<unsigned>(ip.protocol));
  switch (ip.protocol) {
    case IpProtocol::Icmp: return describe_icmp(ip, payload);
    case IpProtocol::Udp: return describe_udp(ip, payload, ip.more_frags);
    case IpProtocol::Tcp: return describe_tcp(ip, payload);
  }
  return addresses(ip) + " ip-proto-" + std::to_string(static_cast<unsigned>(ip.protocol)) + " " +
         std::to_string(payload.size());
}

}  // namespace

std::string describe_arp(std::span<const std::byte> packet) {
  const auto view = arp::View::checked(packet);
  if (!view) return "[malformed ARP]";
  const auto repr = arp::Repr::parse(*view);
  if (!repr) return "[malformed ARP]";
  // tcpdump's length is the whole Ethernet payload, padding included.
  return "ARP, " + repr->describe() + ", length " + std::to_string(packet.size());
}

std::string describe_ipv4(std::span<const std::byte> datagram) {
  // The checks of ipv4::View::checked(), one at a time, so each failure gets its own words.
  if (datagram.size() < ipv4::kMinHeaderLen) {
    return "IP truncated-ip - " + std::to_string(ipv4::kMinHeaderLen - datagram.size()) + " bytes missing";
  }
  const auto raw = ipv4::View::unchecked(datagram);  // the fixed 20 bytes are present
  if (raw.version() != 4) return "IP bad-version " + std::to_string(raw.version());
  if (raw.header_len() < ipv4::kMinHeaderLen) return "IP bad-hlen " + std::to_string(raw.header_len());
  if (raw.total_len() < raw.header_len()) return "IP bad-len " + std::to_string(raw.total_len());

  std::string prefix = "IP ";
  if (raw.total_len() > datagram.size()) {
    prefix += "truncated-ip - " + std::to_string(raw.total_len() - datagram.size()) + " bytes missing! ";
  }
  const auto view = ipv4::View::checked_prefix(datagram);
  if (!view) {
    // Only the options are cut off: the fixed header is still worth showing.
    const auto ip = ipv4::Repr::parse(raw);
    return prefix + ip.src.describe() + " > " + ip.dst.describe() + ": [|ip]";
  }
  return prefix + describe_ip_payload(ipv4::Repr::parse(*view), view->payload());
}

std::string describe_frame(std::span<const std::byte> frame) {
  const auto eth = ethernet::View::checked(frame);
  if (!eth) return "[malformed Ethernet, length " + std::to_string(frame.size()) + "]";
  switch (eth->ethertype()) {
    case EtherType::Arp: return describe_arp(eth->payload());
    case EtherType::Ipv4: return describe_ipv4(eth->payload());
    case EtherType::Ipv6: break;  // not decoded: we do not speak IPv6
  }
  const std::string number = hex16(static_cast<std::uint16_t>(eth->ethertype()));
  std::string name = describe(eth->ethertype());
  if (name == number) name = "Unknown";  // tcpdump's word for a type it has no name for
  return "ethertype " + name + " (" + number + "), length " +
         std::to_string(eth->payload().size());
}

}  // namespace stack::wire
