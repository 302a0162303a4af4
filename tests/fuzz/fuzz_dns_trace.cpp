// libFuzzer target: the iterative DNS walk of `ustack resolve --trace` and the mini-browser's level 5
// (apps/common/dns_trace.hpp) against a hostile internet. A whole Interface runs the walk in virtual
// time; every query it sends is answered by a server model whose replies the input shapes: rcode,
// AA and TC bits, records in the three sections (A, NS, CNAME, SOA, AAAA, TXT, any type) with owner
// names and targets from a dictionary around the name asked (its parents, name servers with and
// without glue, aliases, out-of-bailiwick names, labels holding dots, spaces and backslashes),
// addresses including our own, loopback, broadcast and multicast; replies from the wrong address,
// port or ID, or malformed; silence. A truncated reply (TC=1) sends the walk to TCP (RFC 7766): a
// small TCP peer in the model refuses, stays silent, or accepts and answers with a framed reply whose
// length prefix, split and FIN the input chooses. RFC 1034 §5.3.3 (the walk), RFC 5452 §9.1 (which
// replies count), RFC 1035 §4.2.2 (TCP framing).
//
// Invariants:
//   - the walk ends (its callback runs exactly once) within the time its bounds allow: at most
//     max_queries queries, each answered or timed out after timeout_ms;
//   - a result without an error has addresses, and counts no more queries than the bound;
//   - every name in the records it reports survives describe() -> Name::parse() unchanged.
// An input starting with 0xff is a root hints file instead (parse_root_hints: parsed, or refused
// with a reason; never an empty list).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "apps/common/dns_trace.hpp"
#include "dns_internet.hpp"

using namespace fuzz::dnsnet;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 0 && data[0] == 0xff) {
    // A root hints file (--root-hints): lines as text, parsed or refused with a line number.
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto hints = appkit::parse_root_hints(text, "hints");
    if (hints) {
      trap_unless(!hints->empty());
    } else {
      trap_unless(!hints.error().message.empty());
    }
    return 0;
  }
  Input in{{data, size}};

  Instant now = Instant::from_secs(1);
  std::vector<Bytes> out;
  iface::InterfaceConfig config;
  config.mac = kOurMac;
  config.seed = 7;
  iface::Interface ifc(config, [&](std::span<const std::byte> f) { out.emplace_back(f.begin(), f.end()); });
  ifc.set_address(now, w::Ipv4Cidr{kOurIp, 24}, kRouterIp, false);

  appkit::DnsTraceOptions options;
  options.roots = {{name_of("a.root-servers.net."), Ipv4Address::from_octets(198, 51, 100, 1)},
                   {name_of("b.root-servers.net."), Ipv4Address::from_octets(198, 51, 100, 9)}};
  options.timeout_ms = 2000;
  options.max_queries = 12 + in.u8() % 29;
  const std::uint8_t which = in.u8();
  const std::string target = (which & 1) ? "www.domain.com" : (which & 2) ? "alias.domain.com" : "we\\.ird.domain.com";
  appkit::DnsTrace trace(ifc, options, [&] { return now; }, 99);
  int callbacks = 0;
  std::optional<appkit::TraceResult> result;
  trace.on_step = [](const appkit::TraceStep& s) { (void)s.note; };
  trace.on_note = [](int, const std::string&) {};
  trace.start(target, [&](const appkit::TraceResult& r) {
    ++callbacks;
    result = r;
  });

  Internet internet;
  // Every query either gets an answer or times out after timeout_ms (TCP retries count as
  // queries too), so the walk must be over by then, with room for the ARP exchange.
  const Instant limit = now + Duration::from_millis(std::int64_t{options.max_queries + 2} * options.timeout_ms + 5000);
  for (int turn = 0; turn < 4000 && now <= limit && !callbacks; ++turn) {
    trace.process();
    ifc.poll(now);
    std::vector<Bytes> sent;
    sent.swap(out);
    bool acted = false;
    for (const auto& frame : sent) acted = internet.handle(frame, ifc, in, now) || acted;
    if (acted || callbacks) continue;
    // Nothing to answer: time moves to the next thing due (the walk's deadline, a timer).
    std::optional<Instant> next = trace.next_deadline();
    if (auto t = ifc.poll_at(now); t && (!next || *t < *next)) next = t;
    if (!next) break;
    now = std::max(now + Duration::from_millis(1), *next);
  }

  trap_unless(callbacks == 1);
  trap_unless(!trace.busy());
  trap_unless(result->queries <= options.max_queries + 1);
  if (result->ok()) trap_unless(!result->addresses.empty());
  (void)result->error_message();
  for (const auto& r : result->records) {
    const auto again = dns::Name::parse(r.name.describe());
    trap_unless(again.has_value() && *again == r.name);
  }
  (void)trace.tcp_closed();
  // After the walk, the stack keeps running (TCP connections finish their close) without it.
  for (int i = 0; i < 50; ++i) {
    trace.process();
    ifc.poll(now);
    out.clear();
    now += Duration::from_millis(500);
  }
  return 0;
}
