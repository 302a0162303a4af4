#include "stack/wire/ipv4.hpp"

namespace stack::wire {

std::string describe(IpProtocol p) {
  switch (p) {
    case IpProtocol::Icmp: return "ICMP";
    case IpProtocol::Tcp: return "TCP";
    case IpProtocol::Udp: return "UDP";
  }
  return std::to_string(static_cast<unsigned>(p));
}

namespace ipv4 {

namespace {
std::string hex8(std::uint8_t v) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string s = "0x";
  if (v >= 0x10) s += kHex[v >> 4];
  s += kHex[v & 0xf];
  return s;
}
}  // namespace

Repr Repr::parse(const View& packet) {
  return Repr{
      .src = packet.src(),
      .dst = packet.dst(),
      .protocol = packet.protocol(),
      .payload_len = std::size_t{packet.total_len()} - packet.header_len(),
      .ttl = packet.ttl(),
      .ident = packet.ident(),
      .dont_frag = packet.dont_frag(),
      .more_frags = packet.more_frags(),
      .frag_offset = packet.frag_offset(),
      .tos = packet.tos(),
  };
}

void Repr::emit(ViewMut& packet) const {
  assert(payload_len <= kMaxTotalLen - header_len());
  packet.set_version(4);
  packet.set_header_len(header_len());
  packet.set_tos(tos);
  packet.set_total_len(static_cast<std::uint16_t>(header_len() + payload_len));
  packet.set_ident(ident);
  packet.clear_flags();
  packet.set_dont_frag(dont_frag);
  packet.set_more_frags(more_frags);
  packet.set_frag_offset(frag_offset);
  packet.set_ttl(ttl);
  packet.set_protocol(protocol);
  packet.set_src(src);
  packet.set_dst(dst);
  packet.fill_checksum();
}

std::string Repr::describe() const {
  // tcpdump prints flags as "[DF]", "[+]" (more fragments), "[DF+]" or "[none]".
  const std::string name = wire::describe(protocol);
  const std::string number = std::to_string(static_cast<unsigned>(protocol));
  const std::string proto = name == number ? number : name + " (" + number + ")";
  std::string flags;
  if (dont_frag) flags += "DF";
  if (more_frags) flags += "+";
  if (flags.empty()) flags = "none";
  return "IP (tos " + hex8(tos) + ", ttl " + std::to_string(ttl) + ", id " + std::to_string(ident) +
         ", offset " + std::to_string(frag_offset) + ", flags [" + flags + "], proto " + proto + ", length " +
         std::to_string(header_len() + payload_len) + ") " + src.describe() + " > " + dst.describe();
}

}  // namespace ipv4
}  // namespace stack::wire
