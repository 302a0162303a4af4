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
    auto created = DnsResolver::create(net.client(), o, [this] { return net.now(); });
    REQUIRE_MESSAGE(created.ok(), (created.ok() ? std::string() : created.error().message));
    resolver = std::move(*created);
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

namespace {

// A truncated UDP answer (TC=1, no records: what unbound sends when the RRset does not fit).
Script truncated_over_udp() {
  return [](Ipv4Address, const dns::Message& q) {
    auto r = response_to(q);
    r.header.tc = true;
    return one(r);
  };
}

// The whole answer: `n` A records 198.18.0.1..n (16 octets each in the answer section).
Script many_addresses(int n) {
  return [n](Ipv4Address, const dns::Message& q) {
    auto r = response_to(q);
    for (int i = 1; i <= n; ++i) {
      r.answers.push_back(a_record("big.test", Ipv4Address::from_octets(198, 18, static_cast<std::uint8_t>(i / 256),
                                                                         static_cast<std::uint8_t>(i % 256)),
                                   600));
    }
    return one(r);
  };
}

bool has_line(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

}  // namespace

TEST_CASE("dns resolver: a truncated answer is asked again over our TCP (RFC 7766), all records kept") {
  Fixture f(1000, 2);
  f.net.serve_udp(53, truncated_over_udp());
  f.net.serve_tcp(53, many_addresses(100));  // ~1.6 KB: two segments at MSS 1460
  const auto r = f.resolve("big.test");
  REQUIRE_MESSAGE(r.ok(), r.error_message() << "\n" << f.all_events());
  REQUIRE(r.addresses.size() == 100);
  CHECK(r.addresses.front().address == Ipv4Address::from_octets(198, 18, 0, 1));
  CHECK(r.addresses.back().address == Ipv4Address::from_octets(198, 18, 0, 100));
  CHECK(r.addresses[42].ttl == 600);
  CHECK(r.over_tcp);
  CHECK(r.server == kPeerIp);
  const auto text = f.all_events();
  CHECK_MESSAGE(has_line(text, "DNS: asking 10.77.0.1 for big.test A"), text);
  CHECK_MESSAGE(has_line(text, "DNS: answer truncated (TC=1) from 10.77.0.1 for big.test: retrying over TCP"), text);
  CHECK_MESSAGE(has_line(text, "DNS: connecting to 10.77.0.1:53 over TCP (RFC 7766)"), text);
  CHECK_MESSAGE(text.find("DNS: TCP connection to 10.77.0.1:53 established in ") != std::string::npos, text);
  CHECK_MESSAGE(has_line(text, "DNS: asking 10.77.0.1 for big.test A over TCP"), text);
  CHECK_MESSAGE(text.find(" from 10.77.0.1 over TCP in ") != std::string::npos, text);
  const auto& c = f.resolver->counters();
  CHECK(c.truncated == 1);
  CHECK(c.tcp_connections == 1);
  CHECK(c.tcp_failures == 0);
  // prefix, header, question, records (our encoder does not compress names: 24 octets each)
  CHECK(c.tcp_bytes_received == 2 + 12 + 14 + 100 * 24);
  CHECK(f.net.tcp_queries_seen == 1);
  // c-ares closes the connection once nothing is pending: our FIN reaches the server, and ours
  // is acknowledged (RFC 7766 §6.2.3: the client closes).
  CHECK_MESSAGE(has_line(text, "DNS: closing the TCP connection to 10.77.0.1:53"), text);
  CHECK(f.net.run_until([&] { return f.resolver->tcp_closed() && f.net.tcp_client_fins == 1; },
                        stack::Duration::from_secs(2), [&] { f.resolver->process(); }));
  CHECK(f.resolver->idle());
}

TEST_CASE("dns resolver: a TCP answer that arrives one octet per segment is put together") {
  Fixture f(1000, 2);
  f.net.serve_udp(53, truncated_over_udp());
  f.net.serve_tcp(53, many_addresses(12), TcpStyle::Trickle);
  const auto r = f.resolve("big.test");
  REQUIRE_MESSAGE(r.ok(), r.error_message() << "\n" << f.all_events());
  CHECK(r.addresses.size() == 12);
  CHECK(r.over_tcp);
  CHECK(f.resolver->counters().tcp_bytes_received == 2 + 12 + 14 + 12 * 24);
}

TEST_CASE("dns resolver: two truncated lookups at once share one TCP connection (RFC 7766 §6.2.1)") {
  Fixture f(1000, 2);
  f.net.serve_udp(53, truncated_over_udp());
  f.net.serve_tcp(53, [](Ipv4Address, const dns::Message& q) {
    auto r = response_to(q);
    r.answers.push_back(dns::Record{q.questions[0].name, 1, 1, 60, dns::rdata::A{Ipv4Address::from_octets(198, 18, 1, 1)}});
    return one(r);
  });
  std::optional<DnsResult> a, b;
  f.resolver->resolve("one.test", [&](const DnsResult& r) { a = r; });
  f.resolver->resolve("two.test", [&](const DnsResult& r) { b = r; });
  REQUIRE(f.net.run_until([&] { return a && b; }, stack::Duration::from_secs(3), [&] { f.resolver->process(); }));
  REQUIRE_MESSAGE(a->ok(), a->error_message() << "\n" << f.all_events());
  REQUIRE_MESSAGE(b->ok(), b->error_message() << "\n" << f.all_events());
  CHECK(a->over_tcp);
  CHECK(b->over_tcp);
  CHECK(f.resolver->counters().truncated == 2);
  CHECK(f.resolver->counters().tcp_connections == 1);  // c-ares 1.18: one TCP connection per server
  CHECK(f.net.tcp_queries_seen == 2);
  CHECK(f.net.tcp_accepted == 1);
}

TEST_CASE("dns resolver: TC=1 and nobody on TCP port 53: connection refused, named, no timeout") {
  Fixture f(1000, 2);
  f.net.serve_udp(53, truncated_over_udp());  // no TCP listener: the peer answers our SYN with RST
  const auto r = f.resolve("big.test");
  CHECK(r.error == DnsError::TcpFailed);
  CHECK_MESSAGE(r.error_message() ==
                    "answer truncated and the retry over TCP failed (TC=1 from 10.77.0.1, then TCP to "
                    "10.77.0.1:53: connection refused)",
                r.error_message());
  CHECK(r.elapsed < stack::Duration::from_millis(900));  // the RST ends it, not c-ares' timeout
  CHECK(f.resolver->counters().tcp_failures >= 1);
  CHECK(f.resolver->counters().tcp_connections >= 1);
}

TEST_CASE("dns resolver: the TCP server resets or closes without an answer: every try fails, named") {
  SUBCASE("reset") {
    Fixture f(1000, 2);
    f.net.serve_udp(53, truncated_over_udp());
    f.net.serve_tcp(53, many_addresses(1), TcpStyle::Reset);
    const auto r = f.resolve("big.test");
    CHECK(r.error == DnsError::TcpFailed);
    CHECK_MESSAGE(r.detail == "TC=1 from 10.77.0.1, then TCP to 10.77.0.1:53: connection reset by peer", r.detail);
    CHECK(f.net.tcp_queries_seen == 2);  // tries = 2: a fresh connection for the second try
  }
  SUBCASE("FIN without an answer") {
    Fixture f(1000, 2);
    f.net.serve_udp(53, truncated_over_udp());
    f.net.serve_tcp(53, many_addresses(1), TcpStyle::CloseWithoutReply);
    const auto r = f.resolve("big.test");
    CHECK(r.error == DnsError::TcpFailed);
    CHECK_MESSAGE(r.detail == "TC=1 from 10.77.0.1, then TCP to 10.77.0.1:53: closed by the server before answering",
                  r.detail);
    CHECK(f.net.tcp_queries_seen == 2);
  }
}

TEST_CASE("dns resolver: TC=1, then a TCP server that never answers: timeout, said so") {
  Fixture f(150, 2);
  f.net.serve_udp(53, truncated_over_udp());
  f.net.serve_tcp(53, many_addresses(1), TcpStyle::Silent);
  const auto r = f.resolve("big.test");
  CHECK(r.error == DnsError::TimedOut);
  CHECK_MESSAGE(r.detail == "TC=1 from 10.77.0.1, then no reply over TCP", r.detail);
  // c-ares 1.18 restarts the try's timer when it resends over TCP, and does not send the query
  // again on the same (open, silent) connection: one timeout after the truncated answer.
  CHECK(r.elapsed >= stack::Duration::from_millis(150));
  CHECK(r.elapsed < stack::Duration::from_millis(600));
  CHECK(f.net.tcp_queries_seen == 1);
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
