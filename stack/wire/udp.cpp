#include "stack/wire/udp.hpp"

#include <algorithm>

namespace stack::wire::udp {

Repr Repr::parse(const View& packet) { return Repr{.src_port = packet.src_port(), .dst_port = packet.dst_port()}; }

void Repr::emit(ViewMut& packet, Ipv4Address src, Ipv4Address dst, std::span<const std::byte> payload) const {
  assert(payload.size() <= kMaxPayloadLen && packet.bytes().size() >= kHeaderLen + payload.size());
  packet.set_src_port(src_port);
  packet.set_dst_port(dst_port);
  packet.set_length(static_cast<std::uint16_t>(kHeaderLen + payload.size()));
  std::ranges::copy(payload, packet.payload().begin());
  packet.fill_checksum(src, dst);
}

std::string Repr::describe() const { return "UDP " + std::to_string(src_port) + " > " + std::to_string(dst_port); }

}  // namespace stack::wire::udp
