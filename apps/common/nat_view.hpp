// Level 7's NAT (docs/levels.md "NAT"): each connection's real source address and port as our SYN
// carries it, and — where this program can read the connection-tracking table of the namespace
// its interface lives in (the sandbox's router, or a host running tools/host-net: the table of the
// NAT in front of us, /proc/net/nf_conntrack, readable by root) — both sides of each mapping the
// router made (RFC 3022 NAPT), and whether Linux kept our source port.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "stack/wire/ip_address.hpp"

namespace appkit {

class NatView {
 public:
  // An outgoing SYN (first transmission) from `ours` to a host off its subnet, sent through
  // `router`: the line for it.
  std::optional<std::string> on_frame(bool outgoing, std::span<const std::byte> frame,
                                      std::optional<stack::wire::Ipv4Cidr> ours, std::optional<stack::wire::Ipv4Address> router);
  // A connection to look up in the table (on_frame calls it); false when it is known already.
  bool add(stack::wire::Ipv4Address src, std::uint16_t sport, stack::wire::Ipv4Address dst, std::uint16_t dport);

  // After the run: one line per connection from the table at `table_path`, or one line saying why
  // there is none (not readable, not found: the NAT is elsewhere).
  std::vector<std::string> mappings(const std::string& table_path = "/proc/net/nf_conntrack") const;

 private:
  struct Flow {
    std::uint32_t src, dst;
    std::uint16_t sport, dport;
  };
  std::vector<Flow> flows_;
};

}  // namespace appkit
