#include "stack/wire/ethernet.hpp"

#include <cctype>

namespace stack::wire {

namespace {
constexpr char kHex[] = "0123456789abcdef";

std::string hex16(std::uint16_t v) {
  std::string s = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) s += kHex[(v >> shift) & 0xf];
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l >= 'a' && l <= 'f') return l - 'a' + 10;
  return -1;
}
}  // namespace

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  // Exactly six groups of two hex digits separated by ':' or '-'.
  if (text.size() != 17) return std::nullopt;
  MacAddress mac;
  for (std::size_t i = 0; i < 6; ++i) {
    const std::size_t at = i * 3;
    const int hi = hex_value(text[at]);
    const int lo = hex_value(text[at + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[at + 2] != ':' && text[at + 2] != '-') return std::nullopt;
    mac.octets[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return mac;
}

std::string MacAddress::describe() const {
  std::string s;
  s.reserve(17);
  for (std::size_t i = 0; i < octets.size(); ++i) {
    if (i) s += ':';
    s += kHex[octets[i] >> 4];
    s += kHex[octets[i] & 0xf];
  }
  return s;
}

MacAddress load_mac(std::span<const std::byte> b, std::size_t at) {
  MacAddress mac;
  for (std::size_t i = 0; i < 6; ++i) mac.octets[i] = load_u8(b, at + i);
  return mac;
}

void store_mac(std::span<std::byte> b, std::size_t at, const MacAddress& mac) {
  for (std::size_t i = 0; i < 6; ++i) store_u8(b, at + i, mac.octets[i]);
}

std::string describe(EtherType t) {
  switch (t) {
    case EtherType::Ipv4: return "IPv4";
    case EtherType::Arp: return "ARP";
    case EtherType::Ipv6: return "IPv6";
  }
  return hex16(static_cast<std::uint16_t>(t));
}

namespace ethernet {

Repr Repr::parse(const View& frame) {
  return Repr{.src = frame.source(), .dst = frame.destination(), .ethertype = frame.ethertype()};
}

void Repr::emit(ViewMut& frame) const {
  frame.set_destination(dst);
  frame.set_source(src);
  frame.set_ethertype(ethertype);
}

std::string Repr::describe() const {
  // The shape of `tcpdump -e`: "src > dst, ethertype IPv4 (0x0800)".
  return src.describe() + " > " + dst.describe() + ", ethertype " + wire::describe(ethertype) + " (" +
         hex16(static_cast<std::uint16_t>(ethertype)) + ")";
}

}  // namespace ethernet
}  // namespace stack::wire
