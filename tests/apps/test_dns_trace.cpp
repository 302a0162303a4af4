// apps/dns_trace: the iterative walk against a scripted internet of name servers behind the
// gateway (frames answered from whatever address was asked). Real clock, small timeouts.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "apps/common/dns_trace.hpp"
#include "apps/test_dns_net.hpp"

using namespace test::dnsnet;
using appkit::DnsError;
using appkit::TraceResult;
using appkit::TraceStep;

namespace {

const Ipv4Address kRoot = Ipv4Address::from_octets(198, 51, 100, 1);
const Ipv4Address kRoot2 = Ipv4Address::from_octets(198, 51, 100, 11);
const Ipv4Address kCom = Ipv4Address::from_octets(198, 51, 100, 2);
const Ipv4Address kDomain = Ipv4Address::from_octets(198, 51, 100, 3);
const Ipv4Address kNet = Ipv4Address::from_octets(198, 51, 100, 4);
const Ipv4Address kElsewhere = Ipv4Address::from_octets(198, 51, 100, 5);
const Ipv4Address kWww = Ipv4Address::from_octets(203, 0, 113, 80);

dns::Record glue(const char* host, Ipv4Address a) { return a_record(host, a, 86400); }

// The sandbox's hierarchy, plus net. and a few hostile corners.
std::vector<Reply> sandbox(Ipv4Address server, const dns::Message& q) {
  CHECK_FALSE(q.header.rd);  // iterative: RD=0, as dig +trace
  const std::string name = q.questions.at(0).name.key();
  auto r = response_to(q);
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (server == kRoot || server == kRoot2) {
    if (ends_with("com.")) {
      r.authority.push_back(ns_record("com", "ns1.nic.com"));
      r.additional.push_back(glue("ns1.nic.com", kCom));
    } else if (ends_with("net.")) {
      r.authority.push_back(ns_record("net", "ns1.nic.net"));
      r.additional.push_back(glue("ns1.nic.net", kNet));
    } else {
      r.header.aa = true;
      r.header.rcode = 3;
      r.authority.push_back(soa_record("."));
    }
  } else if (server == kCom) {
    if (ends_with("domain.com.")) {
      r.authority.push_back(ns_record("domain.com", "ns1.domain.com"));
      r.additional.push_back(glue("ns1.domain.com", kDomain));
    } else if (ends_with("noglue.com.")) {
      r.authority.push_back(ns_record("noglue.com", "ns.elsewhere.net"));
      // Out-of-bailiwick "glue" for a .net name from the com. server: must not be trusted.
      r.additional.push_back(glue("ns.elsewhere.net", Ipv4Address::from_octets(6, 6, 6, 6)));
    } else if (ends_with("loop.com.")) {
      r.authority.push_back(ns_record("com", "ns1.nic.com"));  // "ask com." again: a loop
      r.additional.push_back(glue("ns1.nic.com", kCom));
    } else {
      r.header.aa = true;
      r.header.rcode = 3;
      r.authority.push_back(soa_record("com"));
    }
  } else if (server == kNet) {
    r.authority.push_back(ns_record("elsewhere.net", "ns.elsewhere.net"));
    r.additional.push_back(glue("ns.elsewhere.net", kElsewhere));
  } else if (server == kElsewhere) {
    r.header.aa = true;
    if (name == "ns.elsewhere.net.") r.answers.push_back(a_record("ns.elsewhere.net", kElsewhere));
    else if (name == "www.noglue.com.") r.answers.push_back(a_record("www.noglue.com", kWww, 60));
  } else if (server == kDomain) {
    r.header.aa = true;
    if (name == "www.domain.com.") r.answers.push_back(a_record("www.domain.com", kWww, 3600));
    else if (name == "web.domain.com.") r.answers.push_back(cname_record("web.domain.com", "www.domain.com", 3600));
    else if (name == "out.domain.com.") r.answers.push_back(cname_record("out.domain.com", "www.noglue.com", 3600));
    else r.authority.push_back(soa_record("domain.com"));
  } else {
    return {};
  }
  return {Reply{r.emit(), std::nullopt}};
}

struct Walker {
  DnsTestNet net;
  std::unique_ptr<appkit::DnsTrace> trace;
  std::vector<TraceStep> steps;
  std::vector<std::string> notes;

  explicit Walker(std::vector<appkit::RootHint> roots = {{*dns::Name::parse("a.root-servers.net"), kRoot}},
                  int timeout_ms = 150) {
    appkit::DnsTraceOptions o;
    o.roots = std::move(roots);
    o.timeout_ms = timeout_ms;
    trace = std::make_unique<appkit::DnsTrace>(net.client(), o, [this] { return net.now(); }, 7);
    trace->on_step = [this](const TraceStep& s) { steps.push_back(s); };
    trace->on_note = [this](int, const std::string& n) { notes.push_back(n); };
    net.internet = sandbox;
  }
  TraceResult run(const std::string& name) {
    std::optional<TraceResult> result;
    trace->start(name, [&](const TraceResult& r) { result = r; });
    REQUIRE(net.run_until([&] { return result.has_value(); }, stack::Duration::from_secs(5), [&] { trace->process(); }));
    return *result;
  }
  std::string path() const {
    std::string s;
    for (const auto& st : steps) s += (s.empty() ? "" : " ") + st.server.describe() + "(" + st.zone.describe() + ")";
    return s;
  }
};

}  // namespace

TEST_CASE("dns trace: root -> com. -> domain.com. -> the answer, as dig +trace walks it") {
  Walker w;
  const auto r = w.run("www.domain.com");
  REQUIRE_MESSAGE(r.ok(), r.error_message());
  CHECK(r.addresses.at(0).address == kWww);
  CHECK(r.addresses.at(0).ttl == 3600);
  CHECK(r.server == kDomain);
  CHECK(r.queries == 3);
  REQUIRE(w.steps.size() == 3);
  CHECK(w.path() == "198.51.100.1(.) 198.51.100.2(com.) 198.51.100.3(domain.com.)");
  CHECK(w.steps[0].outcome == TraceStep::Outcome::Referral);
  CHECK(w.steps[0].note == "referral to com.");
  CHECK(w.steps[0].server_name.describe() == "a.root-servers.net.");
  CHECK(w.steps[1].server_name.describe() == "ns1.nic.com.");
  CHECK(w.steps[2].outcome == TraceStep::Outcome::Answer);
  CHECK(w.steps[2].bytes > 0);
  CHECK(w.trace->ignored_replies() == 0);
}

TEST_CASE("dns trace: a CNAME restarts the walk at the root for the target (RFC 1034 §5.3.3)") {
  Walker w;
  const auto r = w.run("out.domain.com");
  REQUIRE_MESSAGE(r.ok(), r.error_message());
  REQUIRE(r.records.size() == 2);
  CHECK(r.records[0].describe() == "out.domain.com.\t3600\tIN\tCNAME\twww.noglue.com.");
  CHECK(r.records[1].describe() == "www.noglue.com.\t60\tIN\tA\t203.0.113.80");
}

TEST_CASE("dns trace: no glue (and out-of-bailiwick glue ignored): a nested walk finds the server") {
  Walker w;
  const auto r = w.run("www.noglue.com");
  REQUIRE_MESSAGE(r.ok(), r.error_message());
  CHECK(r.server == kElsewhere);
  // root, com. (referral without usable glue), then nested: root, net., elsewhere.net (the
  // server's address), then the server itself.
  CHECK(w.path() ==
        "198.51.100.1(.) 198.51.100.2(com.) 198.51.100.1(.) 198.51.100.4(net.) 198.51.100.5(elsewhere.net.) "
        "198.51.100.5(noglue.com.)");
  CHECK(w.steps[2].depth == 1);
  CHECK(w.steps[5].depth == 0);
  bool said = false;
  for (const auto& n : w.notes) said = said || n == "no glue for ns.elsewhere.net.: resolving it from the root first";
  CHECK(said);
}

TEST_CASE("dns trace: NXDOMAIN, NODATA and a referral loop end with named errors") {
  {
    Walker w;
    const auto r = w.run("www.nowhere.com");
    CHECK(r.error == DnsError::NoSuchDomain);
    CHECK(r.error_message() == "no such domain (NXDOMAIN for www.nowhere.com from 198.51.100.2#53(ns1.nic.com))");
  }
  {
    Walker w;
    const auto r = w.run("nothing.domain.com");
    CHECK(r.error == DnsError::NoData);
  }
  {
    Walker w;
    const auto r = w.run("www.loop.com");
    CHECK(r.error == DnsError::ReferralLoop);
    CHECK(r.queries == 2);
  }
}

TEST_CASE("dns trace: a silent root server, then the next one; spoofed replies ignored") {
  Walker w({{*dns::Name::parse("x.root-servers.net"), Ipv4Address::from_octets(198, 51, 100, 99)},
            {*dns::Name::parse("b.root-servers.net"), kRoot2}},
           100);
  auto honest = w.net.internet;
  w.net.internet = [honest](Ipv4Address server, const dns::Message& q) {
    auto replies = honest(server, q);
    if (server == kCom) {
      // Before the real reply: the same reply from the wrong port, and one with another ID.
      auto forged = response_to(q);
      forged.header.aa = true;
      forged.answers.push_back(a_record("www.domain.com", Ipv4Address::from_octets(6, 6, 6, 6)));
      auto other_id = forged;
      other_id.header.id = static_cast<std::uint16_t>(q.header.id ^ 0x5555);
      replies.insert(replies.begin(), Reply{other_id.emit(), std::nullopt});
      replies.insert(replies.begin(), Reply{forged.emit(), 5353});
    }
    return replies;
  };
  const auto r = w.run("www.domain.com");
  REQUIRE_MESSAGE(r.ok(), r.error_message());
  CHECK(r.addresses.at(0).address == kWww);
  REQUIRE(w.steps.size() == 4);
  CHECK(w.steps[0].outcome == TraceStep::Outcome::Timeout);
  CHECK(w.steps[0].elapsed >= stack::Duration::from_millis(100));
  CHECK(w.steps[1].server == kRoot2);
  CHECK(w.trace->ignored_replies() == 2);
}

TEST_CASE("dns trace: root hints files, and the built-in IANA list") {
  auto simple = appkit::parse_root_hints("# sandbox\na.root-servers.net 198.51.100.1\n", "hints");
  REQUIRE(simple);
  CHECK(simple->size() == 1);
  CHECK(simple->at(0).address == kRoot);
  auto named_root = appkit::parse_root_hints(
      ";       This file holds the information on root name servers\n"
      ".                        3600000      NS    A.ROOT-SERVERS.NET.\n"
      "A.ROOT-SERVERS.NET.      3600000      A     198.41.0.4\n"
      "A.ROOT-SERVERS.NET.      3600000      AAAA  2001:503:ba3e::2:30\n"
      "B.ROOT-SERVERS.NET.      3600000 IN   A     170.247.170.2\n",
      "named.root");
  REQUIRE(named_root);
  CHECK(named_root->size() == 2);
  CHECK(named_root->at(1).name.describe() == "B.ROOT-SERVERS.NET.");
  auto one_field = appkit::parse_root_hints("a.root-servers.net\n", "bad");
  REQUIRE_FALSE(one_field);
  CHECK(one_field.error().message == "bad:1: expected 'NAME ADDRESS'");
  auto bad_address = appkit::parse_root_hints("ns.example.test. A 192.0.2.1\na.root 1.2.3\n", "bad");
  REQUIRE_FALSE(bad_address);
  CHECK(bad_address.error().message == "bad:2: bad IPv4 address '1.2.3'");
  auto none = appkit::parse_root_hints("; nothing\n", "empty");
  REQUIRE_FALSE(none);
  CHECK(none.error().message == "empty: no root server with an IPv4 address");
  CHECK(appkit::builtin_root_hints().size() == 13);
  CHECK(appkit::builtin_root_hints()[0].address == Ipv4Address::from_octets(198, 41, 0, 4));
}

namespace {

// A server that truncates over UDP and answers authoritatively over TCP (RFC 7766 §5).
std::vector<Reply> truncated_udp(Ipv4Address, const dns::Message& q) {
  CHECK_FALSE(q.header.rd);
  auto r = response_to(q);
  r.header.aa = true;
  r.header.tc = true;
  return {Reply{r.emit(), std::nullopt}};
}
std::vector<Reply> whole_over_tcp(Ipv4Address, const dns::Message& q) {
  CHECK_FALSE(q.header.rd);
  auto r = response_to(q);
  r.header.aa = true;
  for (int i = 1; i <= 80; ++i) {
    r.answers.push_back(a_record("big.test", Ipv4Address::from_octets(198, 18, 0, static_cast<std::uint8_t>(i)), 3600));
  }
  return {Reply{r.emit(), std::nullopt}};
}

}  // namespace

TEST_CASE("dns trace: a truncated reply (TC=1) is asked again of the same server over our TCP") {
  Walker w({{*dns::Name::parse("a.root-servers.net"), kPeerIp}}, 1000);
  w.net.serve_udp(53, truncated_udp);
  w.net.serve_tcp(53, whole_over_tcp);
  const auto r = w.run("big.test");
  REQUIRE_MESSAGE(r.ok(), r.error_message());
  CHECK(r.addresses.size() == 80);
  CHECK(r.server == kPeerIp);
  CHECK(r.queries == 2);  // the datagram, then the same question over TCP
  REQUIRE(w.steps.size() == 1);
  CHECK(w.steps[0].outcome == TraceStep::Outcome::Answer);
  CHECK(w.steps[0].bytes == 12 + 14 + 80 * 24);
  REQUIRE(!w.notes.empty());
  CHECK(w.notes[0] == "truncated reply (TC=1) from 10.77.0.1; asking again over TCP (RFC 7766)");
  CHECK(w.net.tcp_queries_seen == 1);
  CHECK(w.net.run_until([&] { return w.trace->tcp_closed() && w.net.tcp_client_fins == 1; },
                        stack::Duration::from_secs(2), [&] { w.trace->process(); }));
}

TEST_CASE("dns trace: TC=1 and TCP refused or reset: that server did not answer, said why") {
  SUBCASE("refused") {
    Walker w({{*dns::Name::parse("a.root-servers.net"), kPeerIp}}, 1000);
    w.net.serve_udp(53, truncated_udp);  // no TCP listener: RST to our SYN
    const auto r = w.run("big.test");
    CHECK(r.error == DnsError::TimedOut);
    REQUIRE(w.steps.size() == 1);
    CHECK(w.steps[0].outcome == TraceStep::Outcome::Timeout);
    CHECK(w.steps[0].note == "TCP to 10.77.0.1:53: connection refused");
    CHECK(w.steps[0].elapsed < stack::Duration::from_millis(900));  // the RST, not the timer
  }
  SUBCASE("reset after the query") {
    Walker w({{*dns::Name::parse("a.root-servers.net"), kPeerIp}}, 1000);
    w.net.serve_udp(53, truncated_udp);
    w.net.serve_tcp(53, whole_over_tcp, TcpStyle::Reset);
    const auto r = w.run("big.test");
    CHECK(r.error == DnsError::TimedOut);
    REQUIRE(w.steps.size() == 1);
    CHECK(w.steps[0].note == "TCP to 10.77.0.1:53: connection reset by peer");
  }
}
