// apps/dns_resolver: c-ares 1.18 over our UDP sockets, against a scripted DNS server on a second
// Interface across a MemoryLink. Real clock (c-ares has no virtual time), small real timeouts.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/common/dns_resolver.hpp"
#include "apps/test_dns_net.hpp"

using namespace test::dnsnet;
using appkit::DnsError;
using appkit::DnsResolver;
using appkit::DnsResult;

namespace {

const Ipv4Address kWww = Ipv4Address::from_octets(203, 0, 113, 80);

struct Fixture {
  DnsTestNet net;
  std::unique_ptr<DnsResolver> resolver;
  std::vector<std::string> events;

  explicit Fixture(int timeout_ms = 150, int tries = 2, std::vector<Ipv4Address> servers = {kPeerIp}) {
    appkit::DnsResolverOptions o;
    o.servers = std::move(servers);
    o.timeout_ms = timeout_ms;
    o.tries = tries;
    std::string error;
    resolver = DnsResolver::create(net.client(), o, [this] { return net.now(); }, &error);
    REQUIRE_MESSAGE(resolver, error);
    resolver->on_event = [this](const appkit::DnsEvent& e) { events.push_back(e.text); };
  }
  DnsResult resolve(const std::string& name, stack::Duration limit = stack::Duration::from_secs(3)) {
    std::optional<DnsResult> result;
    resolver->resolve(name, [&](const DnsResult& r) { result = r; });
    const bool done = net.run_until([&] { return result.has_value(); }, limit, [&] { resolver->process(); });
    REQUIRE_MESSAGE(done, "no result for " << name);
    return *result;
  }
  std::string all_events() const {
    std::string s;
    for (const auto& e : events) s += e + "\n";
    return s;
  }
};

std::vector<Reply> one(const dns::Message& m) { return {Reply{m.emit(), std::nullopt}}; }

}  // namespace

TEST_CASE("dns resolver: an A answer, with its TTL, the server and the narration") {
  Fixture f;
  f.net.serve_udp(53, [](Ipv4Address, const dns::Message& q) {
    CHECK(q.header.rd);  // a stub asks for recursion
    REQUIRE(q.questions.size() == 1);
    CHECK(q.questions[0].name.describe() == "www.domain.com.");
    auto r = response_to(q);
    r.answers.push_back(a_record("www.domain.com", kWww, 300));
    return one(r);
  });
  const auto r = f.resolve("www.domain.com");
  REQUIRE_MESSAGE(r.ok(), r.error_message());
  REQUIRE(r.addresses.size() == 1);
  CHECK(r.addresses[0].address == kWww);
  CHECK(r.addresses[0].ttl == 300);
  CHECK(r.server == kPeerIp);
  CHECK(r.timeouts == 0);
  CHECK(r.elapsed < stack::Duration::from_millis(500));
  REQUIRE(r.records.size() == 1);
  CHECK(r.records[0].describe() == "www.domain.com.\t300\tIN\tA\t203.0.113.80");
  const auto text = f.all_events();
  CHECK_MESSAGE(text.find("DNS: asking 10.77.0.1 for www.domain.com A\n") != std::string::npos, text);
  CHECK_MESSAGE(text.find("DNS: www.domain.com A 203.0.113.80 (TTL 300) from 10.77.0.1 in ") != std::string::npos, text);
  CHECK(f.resolver->counters().sockets_opened == 1);
  CHECK(f.resolver->idle());
}

TEST_CASE("dns resolver: a CNAME chain in one answer, and one that needs a second query") {
  Fixture f;
  f.net.serve_udp(53, [](Ipv4Address, const dns::Message& q) {
    const auto name = q.questions[0].name.describe();
    auto r = response_to(q);
    if (name == "web.domain.com.") {
      r.answers.push_back(cname_record("web.domain.com", "www.domain.com", 600));
      r.answers.push_back(a_record("www.domain.com", kWww, 300));
    } else if (name == "alias.other.test.") {
      // Only the alias: the target lives elsewhere (RFC 1034 §5.3.3 step 3c: restart there).
      r.answers.push_back(cname_record("alias.other.test", "www.domain.com"));
    } else if (name == "www.domain.com.") {
      r.answers.push_back(a_record("www.domain.com", kWww, 299));
    }
    return one(r);
  });
  auto r = f.resolve("web.domain.com");
  REQUIRE_MESSAGE(r.ok(), r.error_message());
  CHECK(r.cname_chain == std::vector<std::string>{"web.domain.com", "www.domain.com"});
  REQUIRE(r.records.size() == 2);
  CHECK(r.records[0].describe() == "web.domain.com.\t600\tIN\tCNAME\twww.domain.com.");
  CHECK(r.addresses.at(0).ttl == 300);

  r = f.resolve("alias.other.test");
  REQUIRE_MESSAGE(r.ok(), r.error_message());
  CHECK(r.cname_chain == std::vector<std::string>{"alias.other.test", "www.domain.com"});
  CHECK(r.addresses.at(0).address == kWww);
  CHECK(r.addresses.at(0).ttl == 299);
}

TEST_CASE("dns resolver: a CNAME loop is a named error") {
  Fixture f;
  f.net.serve_udp(53, [](Ipv4Address, const dns::Message& q) {
    auto r = response_to(q);
    r.answers.push_back(cname_record("a.loop.test", "b.loop.test"));
    r.answers.push_back(cname_record("b.loop.test", "a.loop.test"));
    return one(r);
  });
  const auto r = f.resolve("a.loop.test");
  REQUIRE(r.error == DnsError::CnameLoop);
}

TEST_CASE("dns resolver: NXDOMAIN, NODATA, SERVFAIL and REFUSED are named, with the server") {
  Fixture f;
  f.net.serve_udp(53, [](Ipv4Address, const dns::Message& q) {
    const auto name = q.questions[0].name.describe();
    dns::Rcode rcode = dns::Rcode::NoError;
    if (name == "www.nowhere.com.") rcode = dns::Rcode::NxDomain;
    if (name == "broken.test.") rcode = dns::Rcode::ServFail;
    if (name == "private.test.") rcode = dns::Rcode::Refused;
    auto r = response_to(q, rcode);
    if (rcode == dns::Rcode::NxDomain || name == "mail-only.test.") r.authority.push_back(soa_record("test"));
    return one(r);
  });
  auto r = f.resolve("www.nowhere.com");
  CHECK(r.error == DnsError::NoSuchDomain);
  CHECK(r.error_message() == "no such domain (NXDOMAIN from 10.77.0.1)");

  r = f.resolve("mail-only.test");
  CHECK(r.error == DnsError::NoData);

  const auto before = f.net.queries_seen;
  r = f.resolve("broken.test");
  CHECK(r.error == DnsError::ServerFailure);
  CHECK(r.error_message() == "server failure (SERVFAIL from 10.77.0.1)");
  CHECK(f.net.queries_seen - before == 2);  // c-ares discards SERVFAIL and tries again (tries=2)

  r = f.resolve("private.test");
  CHECK(r.error == DnsError::Refused);
  CHECK(r.error_message() == "query refused (REFUSED from 10.77.0.1)");
}

TEST_CASE("dns resolver: a silent server times out after tries x timeout (real clock)") {
  Fixture f(100, 2);
  f.net.serve_udp(53, [](Ipv4Address, const dns::Message&) { return std::vector<Reply>{}; });
  const auto r = f.resolve("www.domain.com");
  CHECK(r.error == DnsError::TimedOut);
  CHECK(r.timeouts == 2);
  CHECK(f.net.queries_seen == 2);
  // 100 ms, then 200 ms: c-ares doubles the timeout on each pass over the server list, and with
  // one server every try is a pass (reference §1.4).
  CHECK(r.elapsed >= stack::Duration::from_millis(200));
  CHECK(r.elapsed < stack::Duration::from_millis(1500));
  CHECK_MESSAGE(f.all_events().find("(try 2)") != std::string::npos, f.all_events());
  CHECK(r.error_message() == "timed out (no reply from 10.77.0.1 after 2 tries)");
}

TEST_CASE("dns resolver: a truncated answer needs TCP: NOT IMPLEMENTED, said so") {
  Fixture f;
  f.net.serve_udp(53, [](Ipv4Address, const dns::Message& q) {
    auto r = response_to(q);
    r.header.tc = true;
    return one(r);
  });
  const auto r = f.resolve("big.test");
  CHECK(r.error == DnsError::TruncatedNoTcp);
  CHECK(r.error_message().find("NOT IMPLEMENTED(RFC 7766 TCP fallback)") != std::string::npos);
  CHECK(f.resolver->counters().tcp_refused >= 1);
}

TEST_CASE("dns resolver: empty datagrams, foreign ports and wrong IDs are skipped; the real answer wins") {
  Fixture f;
  f.net.serve_udp(53, [](Ipv4Address, const dns::Message& q) {
    auto good = response_to(q);
    good.answers.push_back(a_record("www.domain.com", kWww));
    auto wrong_id = good;
    wrong_id.header.id = static_cast<std::uint16_t>(q.header.id + 1);
    auto wrong_question = response_to(q);
    wrong_question.questions[0].name = *dns::Name::parse("evil.test");
    wrong_question.answers.push_back(a_record("evil.test", Ipv4Address::from_octets(6, 6, 6, 6)));
    auto spoofed = good;
    spoofed.answers[0].data = dns::rdata::A{Ipv4Address::from_octets(6, 6, 6, 6)};
    return std::vector<Reply>{
        Reply{{}, std::nullopt},                // zero-length: data, not end of file
        Reply{spoofed.emit(), 5353},             // right ID and question, wrong source port
        Reply{wrong_id.emit(), std::nullopt},    // RFC 5452: ID must match
        Reply{wrong_question.emit(), std::nullopt},
        Reply{stack::to_bytes("junk"), std::nullopt},
        Reply{good.emit(), std::nullopt},
    };
  });
  const auto r = f.resolve("www.domain.com");
  REQUIRE_MESSAGE(r.ok(), r.error_message());
  REQUIRE(r.addresses.size() == 1);
  CHECK(r.addresses[0].address == kWww);
  CHECK(f.resolver->counters().empty_datagrams == 1);
  CHECK(f.resolver->counters().foreign_datagrams == 1);
}

TEST_CASE("dns resolver: nobody on port 53: ICMP port unreachable ends the lookup early") {
  Fixture f(1000, 2);
  const auto r = f.resolve("www.domain.com");
  CHECK(r.error == DnsError::Unreachable);
  CHECK(r.elapsed < stack::Duration::from_millis(900));  // not a timeout
  CHECK(f.resolver->counters().icmp_errors >= 1);
}

TEST_CASE("dns resolver: numeric names, bad names, no servers, and two lookups at once") {
  {
    Fixture f;
    auto r = f.resolve("10.1.2.3");
    REQUIRE(r.ok());
    CHECK(r.addresses.at(0).address == Ipv4Address::from_octets(10, 1, 2, 3));
    CHECK(f.resolver->counters().datagrams_sent == 0);
    CHECK(f.resolve("a..b").error == DnsError::BadName);
    CHECK(f.resolve(std::string(64, 'x') + ".test").error == DnsError::BadName);
  }
  {
    Fixture f(150, 2, {});
    CHECK(f.resolve("www.domain.com").error == DnsError::NoServers);
  }
  Fixture f;
  f.net.serve_udp(53, [](Ipv4Address, const dns::Message& q) {
    auto r = response_to(q);
    const auto last = static_cast<std::uint8_t>(q.questions[0].name.labels()[0].size());
    r.answers.push_back(dns::Record{q.questions[0].name, 1, 1, 60, dns::rdata::A{Ipv4Address::from_octets(10, 0, 0, last)}});
    return one(r);
  });
  std::optional<DnsResult> a, b;
  f.resolver->resolve("a.test", [&](const DnsResult& r) { a = r; });
  f.resolver->resolve("bbbb.test", [&](const DnsResult& r) { b = r; });
  REQUIRE(f.net.run_until([&] { return a && b; }, stack::Duration::from_secs(3), [&] { f.resolver->process(); }));
  CHECK(a->addresses.at(0).address == Ipv4Address::from_octets(10, 0, 0, 1));
  CHECK(b->addresses.at(0).address == Ipv4Address::from_octets(10, 0, 0, 4));
}

TEST_CASE("dns resolver: next_deadline follows c-ares' timeout; idle means no deadline") {
  Fixture f(200, 1);
  CHECK_FALSE(f.resolver->next_deadline());
  f.net.serve_udp(53, [](Ipv4Address, const dns::Message&) { return std::vector<Reply>{}; });
  bool done = false;
  f.resolver->resolve("www.domain.com", [&](const DnsResult&) { done = true; });
  f.resolver->process();
  const auto d = f.resolver->next_deadline();
  REQUIRE(d);
  const auto wait = *d - f.net.now();
  CHECK(wait > stack::Duration::from_millis(100));
  CHECK(wait <= stack::Duration::from_millis(210));
  REQUIRE(f.net.run_until([&] { return done; }, stack::Duration::from_secs(2), [&] { f.resolver->process(); }));
  CHECK_FALSE(f.resolver->next_deadline());
}
