// The step every program takes after opening the Host: get an address — from --ip/--gateway/--dns
// when given, else from DHCP (the same client as `ustack dhcp`) — and learn the DNS servers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/dhcp_setup.hpp"
#include "apps/common/host.hpp"

namespace appkit {

struct NetworkSetup {
  std::vector<stack::wire::Ipv4Address> dns_servers;  // --dns first, then DHCP's option 6
  std::optional<LeaseInfo> lease;                     // set when DHCP configured the address
};

// Returns the setup, or a one-line error (with the exit code to use). `narrate` receives DHCP's
// progress ("DISCOVER → OFFER from 10.77.0.1 → REQUEST → ACK"); pass nullptr for silence.
std::variant<NetworkSetup, HostError> setup_network(Host& host, const NetOptions& options, const Narrate& narrate);

// What every subcommand does first: open the Host (TAP and decorators), then get an address.
// On failure the one-line error is printed as "<program>: <message>" and the exit code returned.
// DHCP progress goes to stderr as it happens.
struct ReadyHost {
  std::unique_ptr<Host> host;
  NetworkSetup network;
};
std::variant<ReadyHost, int> bring_up(const NetOptions& options, const std::string& program);

}  // namespace appkit
