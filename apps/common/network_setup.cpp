#include "apps/common/network_setup.hpp"

#include <cstdio>

#include "apps/common/dns_resolver.hpp"
#include "apps/common/hosts_file.hpp"
#include "apps/common/interrupt.hpp"

namespace appkit {

std::optional<std::string> unreachable_reason(const stack::iface::Interface& iface, stack::wire::Ipv4Address dst) {
  if (dst.is_loopback()) {
    return dst.describe() + " is a loopback address: 127/8 never leaves a host (RFC 1122 §3.2.1.3) and this stack "
                            "has no loopback interface; use an address on the network";
  }
  if (!iface.address()) return "Network is unreachable (no address configured)";
  if (!iface.next_hop(dst)) {
    return "Network is unreachable (no route to " + dst.describe() + ": it is outside " + iface.address()->describe() +
           " and no --gateway was given)";
  }
  return std::nullopt;
}

ResolvedHost resolve_host(Host& host, const NetOptions& options, const NetworkSetup& setup, const std::string& name) {
  if (auto a = stack::wire::Ipv4Address::parse(name)) return {a, "literal", {}};
  if (auto hosts = HostsFile::load(options.hosts)) {
    const auto found = hosts->lookup(name);
    if (!found.empty()) return {found.front(), options.hosts, {}};
  }
  if (setup.dns_servers.empty()) {
    return {std::nullopt, {},
            "Could not resolve host: " + name + " (not in " + options.hosts + ", and no DNS server: give --dns or use DHCP)"};
  }
  for (const auto& server : setup.dns_servers) {
    if (auto reason = unreachable_reason(host.iface(), server)) {
      return {std::nullopt, {}, "Could not resolve host: " + name + ": DNS server " + server.describe() + ": " + *reason};
    }
  }
  auto created = DnsResolver::create(host, DnsResolverOptions{.servers = setup.dns_servers});
  if (!created) return {std::nullopt, {}, "Could not resolve host: " + name + ": " + created.error().message};
  std::unique_ptr<DnsResolver> resolver = std::move(*created);
  std::optional<DnsResult> result;
  resolver->resolve(name, [&](const DnsResult& r) { result = r; });
  while (!result) {
    resolver->process();
    if (result) break;
    if (interrupted()) return {std::nullopt, {}, "Could not resolve host: " + name + ": " + interrupt_description()};
    host.step(resolver->next_deadline());
  }
  if (!result->ok() || result->addresses.empty()) {
    return {std::nullopt, {}, "Could not resolve host: " + name + ": " + result->error_message()};
  }
  return {result->addresses.front().address, "DNS, " + std::to_string(result->elapsed.micros() / 1000) + " ms", {}};
}

stack::Result<NetworkSetup, HostError> setup_network(Host& host, const NetOptions& options, const Narrate& narrate,
                                                     DhcpSetupOptions dhcp) {
  NetworkSetup setup;
  if (options.dns) {
    auto dns = stack::wire::Ipv4Address::parse(*options.dns);
    if (!dns) return stack::Err{HostError{ExitCode::Usage, "bad --dns '" + *options.dns + "': expected an IPv4 address"}};
    setup.dns_servers.push_back(*dns);
  }
  if (options.ip) return setup;  // Host::open configured the static address already
  dhcp.tap = options.tap;
  auto lease = acquire_address(host, dhcp, narrate ? narrate : Narrate([](const std::string&, bool) {}));
  if (!lease && interrupted()) return stack::Err{HostError{static_cast<ExitCode>(interrupt_exit_code()), interrupt_description()}};
  if (!lease) {
    return stack::Err{HostError{ExitCode::Failure, "no DHCP lease on " + options.tap +
                                                       " within 30 s: is a DHCP server on the link? (sudo tools/sandbox up provides one)"}};
  }
  for (const auto& d : lease->dns_servers) setup.dns_servers.push_back(d);
  setup.lease = std::move(lease);
  return setup;
}

stack::Result<ReadyHost, int> bring_up(const NetOptions& options, const std::string& program, bool quiet) {
  auto opened = Host::open(options);
  if (!opened) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), opened.error().message.c_str());
    return stack::Err{static_cast<int>(opened.error().code)};
  }
  ReadyHost ready{std::move(*opened), {}};
  auto network = setup_network(*ready.host, options, [quiet](const std::string& text, bool eol) {
    if (quiet) return;
    std::fputs(text.c_str(), stderr);
    if (eol) std::fputc('\n', stderr);
  });
  if (!network) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), network.error().message.c_str());
    return stack::Err{static_cast<int>(network.error().code)};
  }
  ready.network = std::move(*network);
  return ready;
}

}  // namespace appkit
