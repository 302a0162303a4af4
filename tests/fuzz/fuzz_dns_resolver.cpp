// libFuzzer target: the stub resolver every program uses (apps/common/dns_resolver.hpp: c-ares over
// our own UDP and TCP sockets) against the hostile internet of dns_internet.hpp: replies the input
// shapes (rcodes, AA/TC, CNAME chains and loops inside one answer and across restarts, A records
// for other names, other classes, opaque types), decoys from another address, port or ID, malformed
// datagrams, silence, and after TC=1 a TCP peer that refuses, stays silent, or answers with a split
// or lying length prefix (RFC 7766, RFC 1035 §4.2.2). RFC 1034 §3.6.2 and §5.3.3 (the CNAME chain,
// restarts), RFC 5452 §9.1 (which replies count).
//
// c-ares keeps its own time (CLOCK_MONOTONIC), so this target runs on the real clock with short
// timeouts (5..24 ms, one or two tries): a silent server costs milliseconds, not seconds.
//
// Invariants:
//   - the lookup ends: its callback runs exactly once (within 20 s: only a hang gets near it);
//   - a result without an error has addresses, each one an A record of the chain it reports;
//   - every name in the records it reports survives describe() -> Name::parse() unchanged.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "apps/common/clock.hpp"
#include "apps/common/dns_resolver.hpp"
#include "dns_internet.hpp"

using namespace fuzz::dnsnet;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in{{data, size}};
  Instant now = appkit::monotonic_now();
  std::vector<Bytes> out;
  iface::InterfaceConfig config;
  config.mac = kOurMac;
  config.seed = 7;
  iface::Interface ifc(config, [&](std::span<const std::byte> f) { out.emplace_back(f.begin(), f.end()); });
  ifc.set_address(now, w::Ipv4Cidr{kOurIp, 24}, kRouterIp, false);

  appkit::DnsResolverOptions options;
  const std::uint8_t setup = in.u8();
  options.servers = {Ipv4Address::from_octets(198, 51, 100, 53)};
  if (setup & 1) options.servers.push_back(Ipv4Address::from_octets(198, 51, 100, 3));
  options.timeout_ms = 5 + (setup >> 4) + ((setup >> 3) & 1) * 4;
  options.tries = (setup & 2) ? 2 : 1;
  options.edns_payload = (setup & 4) ? 0 : 1232;
  const std::uint8_t which = in.u8();
  const char* const names[] = {"www.domain.com", "alias.domain.com", "x.www.domain.com.", "203.0.113.80", "WWW.Domain.COM"};
  const std::string target = names[which % std::size(names)];

  auto created = appkit::DnsResolver::create(ifc, options, [] { return appkit::monotonic_now(); });
  trap_unless(created.ok() && *created != nullptr);
  const auto& resolver = *created;
  resolver->on_event = [](const appkit::DnsEvent& e) { (void)e.text; };
  int callbacks = 0;
  std::optional<appkit::DnsResult> result;
  resolver->resolve(target, [&](const appkit::DnsResult& r) {
    ++callbacks;
    result = r;
  });

  Internet internet;
  const Instant limit = now + Duration::from_secs(20);
  while (!callbacks && now < limit) {
    resolver->process();
    ifc.poll(now);
    std::vector<Bytes> sent;
    sent.swap(out);
    bool acted = false;
    for (const auto& frame : sent) acted = internet.handle(frame, ifc, in, now) || acted;
    if (!acted && !callbacks) {
      // Nothing to answer: wait for what is due next (c-ares' timeout, a TCP timer), briefly.
      std::optional<Instant> next = resolver->next_deadline();
      if (auto t = ifc.poll_at(now); t && (!next || *t < *next)) next = t;
      const Instant cap = now + Duration::from_millis(2);
      const Instant until = next ? std::min(*next, cap) : cap;
      if (until > now) std::this_thread::sleep_for(std::chrono::microseconds((until - now).micros()));
    }
    now = appkit::monotonic_now();
  }

  trap_unless(callbacks == 1);
  if (result->ok()) {
    trap_unless(!result->addresses.empty());
    for (const auto& a : result->addresses) {
      bool found = false;
      for (const auto& r : result->records) {
        if (const auto* rec = std::get_if<dns::rdata::A>(&r.data); rec && rec->address == a.address) found = true;
      }
      trap_unless(found || target == "203.0.113.80");
    }
  }
  (void)result->error_message();
  for (const auto& r : result->records) {
    const auto again = dns::Name::parse(r.name.describe());
    trap_unless(again.has_value() && *again == r.name);
  }
  (void)resolver->tcp_closed();
  (void)resolver->counters();
  for (int i = 0; i < 3; ++i) {
    resolver->process();
    ifc.poll(appkit::monotonic_now());
    out.clear();
  }
  return 0;
}
