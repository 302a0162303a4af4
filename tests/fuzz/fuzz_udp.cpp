// libFuzzer target: any bytes as a UDP datagram. Must never crash or read out of bounds, and
// whatever parses must survive emit -> parse unchanged with a verifying checksum.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "stack/wire/udp.hpp"

using namespace stack::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> buf(reinterpret_cast<const std::byte*>(data), size);
  const auto packet = udp::View::checked(buf);
  if (!packet) return 0;
  const Ipv4Address src = Ipv4Address::from_octets(10, 77, 0, 74);
  const Ipv4Address dst = Ipv4Address::from_octets(10, 77, 0, 1);
  (void)packet->verify_checksum(src, dst);
  const auto repr = udp::Repr::parse(*packet);
  (void)repr.describe();

  std::vector<std::byte> out(udp::Repr::header_len() + packet->payload().size());
  auto view = udp::ViewMut::unchecked(out);
  repr.emit(view, src, dst, packet->payload());
  const auto again = udp::View::checked(std::span<const std::byte>(out));
  if (!again || !again->verify_checksum(src, dst) || again->checksum() == 0) std::abort();
  if (!(udp::Repr::parse(*again) == repr) || !std::ranges::equal(again->payload(), packet->payload())) std::abort();
  return 0;
}
