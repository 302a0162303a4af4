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

bool options_well_formed(std::span<const std::byte> options) {
  std::size_t i = 0;
  while (i < options.size()) {
    const std::uint8_t kind = load_u8(options, i);
    if (kind == 0) return true;  // End of Option List: the rest is padding
    if (kind == 1) {             // No Operation
      ++i;
      continue;
    }
    if (i + 1 >= options.size()) return false;  // no room for the length byte
    const std::size_t len = load_u8(options, i + 1);
    if (len < 2 || i + len > options.size()) return false;
    if (kind == 7 || kind == 131 || kind == 137) {
      // Record Route / Loose / Strict Source Route: kind, length, pointer, then 4-byte addresses;
      // the pointer (1-based, from the option's start) is at least 4 and at most one past the end.
      if (len < 3 || (len - 3) % 4 != 0) return false;
      const std::size_t pointer = load_u8(options, i + 2);
      if (pointer < 4 || pointer > len + 1) return false;
    }
    i += len;
  }
  return true;
}

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
