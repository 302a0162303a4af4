#include "stack/wire/arp.hpp"

namespace stack::wire::arp {

std::optional<Repr> Repr::parse(const View& packet) {
  if (packet.htype() != kHtypeEthernet || packet.ptype() != EtherType::Ipv4 || packet.hlen() != kHlenEthernet ||
      packet.plen() != kPlenIpv4) {
    return std::nullopt;
  }
  const Operation op = packet.operation();
  if (op != Operation::Request && op != Operation::Reply) return std::nullopt;
  return Repr{
      .operation = op,
      .sender_mac = packet.sender_mac(),
      .sender_ip = packet.sender_ip(),
      .target_mac = packet.target_mac(),
      .target_ip = packet.target_ip(),
  };
}

void Repr::emit(ViewMut& packet) const {
  packet.set_htype(kHtypeEthernet);
  packet.set_ptype(EtherType::Ipv4);
  packet.set_hlen(kHlenEthernet);
  packet.set_plen(kPlenIpv4);
  packet.set_operation(operation);
  packet.set_sender_mac(sender_mac);
  packet.set_sender_ip(sender_ip);
  packet.set_target_mac(target_mac);
  packet.set_target_ip(target_ip);
}

std::string Repr::describe() const {
  if (operation == Operation::Reply) {
    return "Reply " + sender_ip.describe() + " is-at " + sender_mac.describe();
  }
  // tcpdump shows the target MAC of a request only when it is not all zeros (e.g. a unicast
  // re-validation, RFC 1122 §2.3.2.1): "who-has 10.77.0.1 (11:22:33:44:55:66) tell 10.77.0.74".
  std::string s = "Request who-has " + target_ip.describe();
  if (target_mac != MacAddress{}) s += " (" + target_mac.describe() + ")";
  return s + " tell " + sender_ip.describe();
}

}  // namespace stack::wire::arp
