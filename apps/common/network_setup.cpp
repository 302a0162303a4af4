#include "apps/common/network_setup.hpp"

namespace appkit {

std::variant<NetworkSetup, HostError> setup_network(Host& host, const NetOptions& options, const Narrate& narrate) {
  NetworkSetup setup;
  if (options.dns) {
    auto dns = stack::wire::Ipv4Address::parse(*options.dns);
    if (!dns) return HostError{ExitCode::Usage, "bad --dns '" + *options.dns + "': expected an IPv4 address"};
    setup.dns_servers.push_back(*dns);
  }
  if (options.ip) return setup;  // Host::open configured the static address already
  DhcpSetupOptions dhcp;
  dhcp.tap = options.tap;
  auto lease = acquire_address(host, dhcp, narrate ? narrate : Narrate([](const std::string&, bool) {}));
  if (!lease) {
    return HostError{ExitCode::Failure, "no DHCP lease on " + options.tap +
                                            " within 30 s: is a DHCP server on the link? (sudo tools/sandbox up provides one)"};
  }
  for (const auto& d : lease->dns_servers) setup.dns_servers.push_back(d);
  setup.lease = std::move(lease);
  return setup;
}

}  // namespace appkit
