// The step every program takes after opening the Host: get an address — from --ip/--gateway/--dns
// when given, else from DHCP (the same client as `ustack dhcp`) — and learn the DNS servers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/dhcp_setup.hpp"
#include "apps/common/host.hpp"
#include "stack/util/result.hpp"

namespace appkit {

struct NetworkSetup {
  std::vector<stack::wire::Ipv4Address> dns_servers;  // --dns first, then DHCP's option 6
  std::optional<LeaseInfo> lease;                     // set when DHCP configured the address
};

// Returns the setup, or a one-line error (with the exit code to use). `narrate` receives DHCP's
// progress ("DISCOVER → OFFER from 10.77.0.1 → REQUEST → ACK"); pass nullptr for silence.
// `dhcp`: the DHCP client's choices (its `tap` is taken from `options`).
stack::Result<NetworkSetup, HostError> setup_network(Host& host, const NetOptions& options, const Narrate& narrate,
                                                     DhcpSetupOptions dhcp = {});

// What every subcommand does first: open the Host (TAP and decorators), then get an address.
// On failure the one-line error is printed as "<program>: <message>" and the exit code is the error.
// DHCP progress goes to stderr as it happens, unless `quiet` (ping -q).
struct ReadyHost {
  std::unique_ptr<Host> host;
  NetworkSetup network;
};
stack::Result<ReadyHost, int> bring_up(const NetOptions& options, const std::string& program, bool quiet = false);

// Why nothing can be sent to `dst` from this host, or nothing when it can. The kernel answers
// connect()/sendto() at once with ENETUNREACH ("Network is unreachable") when no route covers the
// destination; a program on our stack should say so as fast instead of retransmitting into a void.
// Loopback is refused too: 127/8 never leaves a host (RFC 1122 §3.2.1.3) and this stack has no
// loopback interface.
std::optional<std::string> unreachable_reason(const stack::iface::Interface& iface, stack::wire::Ipv4Address dst);

// A name to one IPv4 address the way every program does it: an address literal, else the hosts
// file (--hosts), else DNS over the stack with `setup`'s servers. `how` says which answered
// ("/etc/hosts", "DNS, 3 ms"); `error` is curl's "Could not resolve host: NAME ..." line.
struct ResolvedHost {
  std::optional<stack::wire::Ipv4Address> address;
  std::string how;
  std::string error;
};
ResolvedHost resolve_host(Host& host, const NetOptions& options, const NetworkSetup& setup, const std::string& name);

}  // namespace appkit
