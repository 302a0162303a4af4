#include "apps/common/network_setup.hpp"

#include <cstdio>

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

std::variant<ReadyHost, int> bring_up(const NetOptions& options, const std::string& program) {
  auto opened = Host::open(options);
  if (auto* err = std::get_if<HostError>(&opened)) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), err->message.c_str());
    return static_cast<int>(err->code);
  }
  ReadyHost ready{std::move(std::get<0>(opened)), {}};
  auto network = setup_network(*ready.host, options, [](const std::string& text, bool eol) {
    std::fputs(text.c_str(), stderr);
    if (eol) std::fputc('\n', stderr);
  });
  if (auto* err = std::get_if<HostError>(&network)) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), err->message.c_str());
    return static_cast<int>(err->code);
  }
  ready.network = std::move(std::get<NetworkSetup>(network));
  return ready;
}

}  // namespace appkit
