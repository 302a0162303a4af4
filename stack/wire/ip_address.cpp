#include "stack/wire/ip_address.hpp"

#include <charconv>

namespace stack::wire {

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  std::uint32_t value = 0;
  std::size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (pos >= text.size() || text[pos] != '.') return std::nullopt;
      ++pos;
    }
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    const std::size_t len = pos - start;
    if (len == 0 || len > 3 || (len > 1 && text[start] == '0')) return std::nullopt;
    unsigned octet = 0;
    std::from_chars(text.data() + start, text.data() + pos, octet);
    if (octet > 255) return std::nullopt;
    value = (value << 8) | octet;
  }
  if (pos != text.size()) return std::nullopt;
  return Ipv4Address{value};
}

std::string Ipv4Address::describe() const {
  const auto o = octets();
  return std::to_string(o[0]) + "." + std::to_string(o[1]) + "." + std::to_string(o[2]) + "." + std::to_string(o[3]);
}

std::optional<Ipv4Cidr> Ipv4Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto addr = Ipv4Address::parse(text.substr(0, slash));
  const std::string_view len_text = text.substr(slash + 1);
  unsigned len = 0;
  const auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (!addr || ec != std::errc{} || ptr != len_text.data() + len_text.size() || len_text.empty() || len > 32 ||
      (len_text.size() > 1 && len_text[0] == '0')) {
    return std::nullopt;
  }
  return Ipv4Cidr{*addr, static_cast<std::uint8_t>(len)};
}

std::optional<std::uint8_t> Ipv4Cidr::prefix_from_mask(Ipv4Address mask) {
  const std::uint32_t m = mask.value;
  const std::uint32_t inverted = ~m;
  // A contiguous mask is ones then zeros: its inverse plus one is a power of two (or zero).
  if ((inverted & (inverted + 1)) != 0) return std::nullopt;
  std::uint8_t len = 0;
  for (std::uint32_t bit = 0x80000000u; bit != 0 && (m & bit); bit >>= 1) ++len;
  return len;
}

std::string Ipv4Cidr::describe() const { return address.describe() + "/" + std::to_string(prefix_len); }

}  // namespace stack::wire
