// wire/dns: golden bytes from real servers, compression, names, and every malformed case of
// docs/hostile-inputs.md #74–#79 (RFC 1035 §3.1, §4.1; RFC 9267).
#include <doctest/doctest.h>

#include <string>

#include "stack/wire/dns.hpp"
#include "support/bytes.hpp"

using namespace stack;
using namespace stack::wire;
namespace d = stack::wire::dns;

namespace {

// Captured with tcpdump on the kernel client (lan0) of the sandbox (tools/sandbox up, instance
// "dns1"), `dig @SERVER NAME A [+norecurse]`; UDP payloads (tshark -e udp.payload).
//
// 1. unbound 198.51.100.53, recursive: "55887 2/0/1 CNAME www.domain.com., A 203.0.113.80 (77)".
//    The A record's owner is a pointer (0xc02c) into the CNAME's RDATA, whose name ends with a
//    pointer (0xc010) into the question: a two-hop chain.
const Bytes kCnameAnswer = test::hex(
    "da4f818000010002000000010377656206646f6d61696e03636f6d0000010001"
    "c00c0005000100000e06000603777777c010c02c0001000100000e000004cb00"
    "715000002904d0000000000000");
// 2. nsd 198.51.100.1 (root), RD=0: a referral to com. with glue: "1756- 0/1/2 (81)".
const Bytes kRootReferral = test::hex(
    "06dc800000010000000100020377777706646f6d61696e03636f6d0000010001"
    "c0170002000100015180000a036e7331036e6963c017c02c0001000100015180"
    "0004c633640200002904d0000000000000");
// 3. nsd 198.51.100.2 (com.), RD=0: "52298 NXDomain*- 0/1/1 (99)", the SOA in AUTHORITY.
const Bytes kNxDomain = test::hex(
    "cc4a8403000100000001000103777777076e6f776865726503636f6d00000100"
    "01c0180006000100000e10002b036e7331036e6963c0180a686f73746d617374"
    "6572c03178a3f175000007080000038400093a8000000e1000002904d0000000"
    "000000");
// 4. dig's query for (1): RD and AD set, EDNS with a cookie: "55887+ [1au] A? web.domain.com. (55)".
const Bytes kDigQuery = test::hex(
    "da4f012000010000000000010377656206646f6d61696e03636f6d0000010001"
    "00002904d000000000000c000a00082923148fa916c2e6");

d::Message parsed(const Bytes& b) {
  auto m = d::parse(b);
  REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : d::to_string(m.error())));
  return *m;
}

d::ParseError error_of(const Bytes& b) {
  auto m = d::parse(b);
  REQUIRE_MESSAGE(!m.ok(), "parsed: " << (m.ok() ? m->describe() : ""));
  return m.error();
}

// A response header with the given counts.
Bytes header(std::uint16_t qd, std::uint16_t an, std::uint16_t ns = 0, std::uint16_t ar = 0) {
  Bytes b = test::hex("1234 8180 0000 0000 0000 0000");
  store_be16(b, 4, qd);
  store_be16(b, 6, an);
  store_be16(b, 8, ns);
  store_be16(b, 10, ar);
  return b;
}
Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
// The question "www.domain.com. IN A" (at offset 12; "domain" at 16, "com" at 23).
const Bytes kQuestion = test::hex("03777777 06646f6d61696e 03636f6d 00 0001 0001");

}  // namespace

TEST_CASE("dns: unbound's CNAME answer parses, with a two-hop compression chain and TTLs") {
  const auto m = parsed(kCnameAnswer);
  CHECK(m.header.id == 0xda4f);
  CHECK(m.header.qr);
  CHECK(m.header.rd);
  CHECK(m.header.ra);
  CHECK_FALSE(m.header.aa);
  CHECK(m.rcode() == d::Rcode::NoError);
  REQUIRE(m.questions.size() == 1);
  CHECK(m.questions[0].name.describe() == "web.domain.com.");
  REQUIRE(m.answers.size() == 2);
  CHECK(m.answers[0].describe() == "web.domain.com.\t3590\tIN\tCNAME\twww.domain.com.");
  CHECK(m.answers[1].describe() == "www.domain.com.\t3584\tIN\tA\t203.0.113.80");
  REQUIRE(m.additional.size() == 1);
  CHECK(m.additional[0].type == 41);   // OPT
  CHECK(m.additional[0].cls == 1232);  // the advertised UDP payload size
  CHECK(m.describe() == "55887 2/0/1 CNAME www.domain.com., A 203.0.113.80");
}

TEST_CASE("dns: the root's referral to com. has the NS set in AUTHORITY and glue in ADDITIONAL") {
  const auto m = parsed(kRootReferral);
  CHECK(m.describe() == "1756- 0/1/2");
  CHECK_FALSE(m.header.aa);
  CHECK(m.answers.empty());
  REQUIRE(m.authority.size() == 1);
  CHECK(m.authority[0].describe() == "com.\t86400\tIN\tNS\tns1.nic.com.");
  REQUIRE(m.additional.size() == 2);
  CHECK(m.additional[0].describe() == "ns1.nic.com.\t86400\tIN\tA\t198.51.100.2");
}

TEST_CASE("dns: com.'s NXDOMAIN carries the SOA (RFC 2308 §2.1)") {
  const auto m = parsed(kNxDomain);
  CHECK(m.rcode() == d::Rcode::NxDomain);
  CHECK(m.header.aa);
  CHECK(m.describe() == "52298 NXDomain*- 0/1/1");
  REQUIRE(m.authority.size() == 1);
  const auto& soa = std::get<d::rdata::Soa>(m.authority[0].data);
  CHECK(soa.mname.describe() == "ns1.nic.com.");
  CHECK(soa.rname.describe() == "hostmaster.nic.com.");
  CHECK(soa.serial == 2024010101);
  CHECK(soa.minimum == 3600);
}

TEST_CASE("dns: dig's query, and ours") {
  const auto q = parsed(kDigQuery);
  CHECK(q.describe() == "55887+ [1au] A? web.domain.com.");
  // Ours: RD as asked, EDNS without options, no compression needed.
  const auto ours = d::build_query(0xda4f, *d::Name::parse("web.domain.com"), 1, true, 1232);
  CHECK(ours == test::hex("da4f 0100 0001 0000 0000 0001 0377656206646f6d61696e03636f6d00 0001 0001"
                          "00 0029 04d0 00000000 0000"));
  CHECK(parsed(ours).describe() == "55887+ [1au] A? web.domain.com.");
  const auto norecurse = d::build_query(7, *d::Name::parse("www.domain.com."), 1, false);
  CHECK(parsed(norecurse).describe() == "7 A? www.domain.com.");
  CHECK(d::same_question(parsed(norecurse), d::Question{*d::Name::parse("WWW.Domain.COM"), 1, 1}));
  CHECK_FALSE(d::same_question(parsed(norecurse), d::Question{*d::Name::parse("www.domain.com"), 28, 1}));
}

TEST_CASE("dns: emit -> parse keeps every golden message (uncompressed on the way out)") {
  for (const auto* golden : {&kCnameAnswer, &kRootReferral, &kNxDomain, &kDigQuery}) {
    const auto m = parsed(*golden);
    const auto out = m.emit();
    CHECK(out.size() >= golden->size());  // no compression when we write
    CHECK(parsed(out) == m);
  }
}

TEST_CASE("dns: names — presentation form, escapes, case, limits") {
  CHECK(d::Name::parse(".")->is_root());
  CHECK(d::Name::parse("www.domain.com")->describe() == "www.domain.com.");
  CHECK(d::Name::parse("www.domain.com.")->describe_relative() == "www.domain.com");
  CHECK(*d::Name::parse("WWW.Domain.Com") == *d::Name::parse("www.domain.com."));
  CHECK(d::Name::parse("WWW.Domain.Com")->key() == "www.domain.com.");
  CHECK(d::Name::parse("a\\.b.c")->labels().size() == 2);
  CHECK(d::Name::parse("a\\.b.c")->describe() == "a\\.b.c.");
  CHECK(d::Name::parse("a\\032b")->describe() == "a\\032b.");
  CHECK_FALSE(d::Name::parse(""));
  CHECK_FALSE(d::Name::parse("a..b"));
  CHECK_FALSE(d::Name::parse(".a"));
  CHECK_FALSE(d::Name::parse("a\\"));
  CHECK_FALSE(d::Name::parse("a\\99"));
  CHECK_FALSE(d::Name::parse("a\\256"));
  CHECK(d::Name::parse(std::string(63, 'x') + ".com"));
  CHECK_FALSE(d::Name::parse(std::string(64, 'x') + ".com"));
  // 255 octets on the wire is the most (RFC 1035 §3.1): 3 × (1+63) + (1+61) + 1 = 255.
  const std::string l63(63, 'a');
  CHECK(d::Name::parse(l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b')));
  CHECK_FALSE(d::Name::parse(l63 + "." + l63 + "." + l63 + "." + std::string(62, 'b')));
  const auto www = *d::Name::parse("www.domain.com");
  CHECK(www.is_within(*d::Name::parse("COM")));
  CHECK(www.is_within(d::Name{}));
  CHECK(www.is_within(www));
  CHECK_FALSE(www.is_within(*d::Name::parse("main.com")));
  CHECK_FALSE(d::Name::parse("com")->is_within(www));
  CHECK(www.parent().describe() == "domain.com.");
}

TEST_CASE("dns: a long but strictly backward pointer chain parses; beyond the hop cap it stops") {
  // Offset 12: the root name (one zero octet); then pointers, each to the one 2 octets before
  // (docs/hostile-inputs.md #74: Net::DNS's unbounded backward chain). The question's name is the last
  // pointer. Every hop is legal; the cap bounds the work.
  auto chain = [](int pointers) {
    Bytes b = header(1, 0);
    b.push_back(std::byte{0});
    std::size_t prev = 12;
    for (int i = 0; i < pointers; ++i) {
      b.push_back(static_cast<std::byte>(0xc0 | (prev >> 8)));
      b.push_back(static_cast<std::byte>(prev & 0xff));
      prev = b.size() - 2;
    }
    return b;
  };
  // As a whole message the padding before the question is "trailing" junk, so parse the name.
  std::size_t end = 0;
  Bytes ok = chain(100);
  auto n = d::parse_name(ok, ok.size() - 2, end);
  REQUIRE(n.ok());
  CHECK(n->is_root());
  CHECK(end == ok.size());
  Bytes too_long = chain(200);
  auto m = d::parse_name(too_long, too_long.size() - 2, end);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error() == d::ParseError::TooManyPointers);
}

TEST_CASE("dns: compression pointer loops and bad targets are rejected (docs/hostile-inputs.md #74, #75)") {
  SUBCASE("a pointer to itself") {
    CHECK(error_of(cat(header(1, 0), test::hex("c00c 0001 0001"))) == d::ParseError::BadPointer);
  }
  SUBCASE("a label then a pointer back to it: a.a.a.… forever") {
    CHECK(error_of(cat(header(1, 0), test::hex("0161 c00c 0001 0001"))) == d::ParseError::BadPointer);
  }
  SUBCASE("a two-pointer cycle: 12 -> 14 -> 12") {
    const Bytes b = cat(header(1, 0), test::hex("c00e c00c 0001 0001"));
    CHECK(error_of(b) == d::ParseError::BadPointer);
    std::size_t end = 0;
    auto from14 = d::parse_name(b, 14, end);  // backward to 12, then forward again: refused
    REQUIRE_FALSE(from14.ok());
    CHECK(from14.error() == d::ParseError::BadPointer);
  }
  SUBCASE("into the header") {
    CHECK(error_of(cat(header(1, 0), test::hex("c005 0001 0001"))) == d::ParseError::BadPointer);
  }
  SUBCASE("forward, and beyond the message") {
    CHECK(error_of(cat(header(1, 0), test::hex("c010 0001 0001 00"))) == d::ParseError::BadPointer);
    CHECK(error_of(cat(header(1, 0), test::hex("c0ff 0001 0001"))) == d::ParseError::BadPointer);
  }
  SUBCASE("a pointer cut in half at the end") {
    CHECK(error_of(cat(header(1, 0), test::hex("c0"))) == d::ParseError::Truncated);
  }
  SUBCASE("a pointer landing in the middle of a label is still bounded") {
    // "www" at 12; the answer's owner points to 13: 'w' (0x77) read as a length octet is a
    // reserved label type; into "domain" at 17, 'o' (0x6f) likewise.
    Bytes b = cat(cat(header(1, 1), kQuestion), test::hex("c00d 0001 0001 00000000 0004 01020304"));
    CHECK(error_of(b) == d::ParseError::ReservedLabelType);
    // At 18 ('m' = 0x6d) too; at 21 ('i' 0x69)… a text byte below 0x40 is a length: '3' at 26.
    Bytes c = cat(cat(header(1, 1), kQuestion), test::hex("c011 0001 0001 00000000 0004 01020304"));
    CHECK_FALSE(d::parse(c).ok());
  }
}

TEST_CASE("dns: label and name lengths (docs/hostile-inputs.md #76, #77)") {
  SUBCASE("reserved label types 01 and 10") {
    CHECK(error_of(cat(header(1, 0), test::hex("4161 00 0001 0001"))) == d::ParseError::ReservedLabelType);
    CHECK(error_of(cat(header(1, 0), test::hex("8161 00 0001 0001"))) == d::ParseError::ReservedLabelType);
  }
  SUBCASE("a label running past the end") {
    CHECK(error_of(cat(header(1, 0), test::hex("05616263"))) == d::ParseError::Truncated);
  }
  SUBCASE("no terminating root label") {
    CHECK(error_of(cat(header(1, 0), test::hex("03616263"))) == d::ParseError::Truncated);
  }
  SUBCASE("a name over 255 octets, even through pointers") {
    Bytes b = header(1, 0);
    for (int i = 0; i < 5; ++i) {
      b.push_back(std::byte{63});
      for (int k = 0; k < 63; ++k) b.push_back(std::byte{'x'});
    }
    b = cat(b, test::hex("00 0001 0001"));
    CHECK(error_of(b) == d::ParseError::NameTooLong);
    // 200 octets of labels then a pointer to another 100: too long only once joined.
    Bytes p = header(2, 0);
    for (int i = 0; i < 2; ++i) {
      p.push_back(std::byte{50});
      for (int k = 0; k < 50; ++k) p.push_back(std::byte{'a'});
    }
    p = cat(p, test::hex("00 0001 0001"));  // question 1: 103 octets, at 12
    for (int i = 0; i < 3; ++i) {
      p.push_back(std::byte{50});
      for (int k = 0; k < 50; ++k) p.push_back(std::byte{'b'});
    }
    p = cat(p, test::hex("c00c 0001 0001"));  // question 2: 153 + 103 = 256 octets
    CHECK(error_of(p) == d::ParseError::NameTooLong);
  }
}

TEST_CASE("dns: RDLENGTH lies (docs/hostile-inputs.md #78)") {
  const Bytes base = cat(header(1, 1), kQuestion);
  auto rr = [&](const char* type_class_ttl_len_rdata) { return cat(base, cat(test::hex("c00c"), test::hex(type_class_ttl_len_rdata))); };
  CHECK(parsed(rr("0001 0001 0000012c 0004 cb007150")).answers[0].describe_rdata() == "203.0.113.80");
  CHECK(error_of(rr("0001 0001 0000012c 0003 cb0071")) == d::ParseError::BadRdLength);
  CHECK(error_of(rr("0001 0001 0000012c 0005 cb00715000")) == d::ParseError::BadRdLength);
  CHECK(error_of(rr("0001 0001 0000012c 0000")) == d::ParseError::BadRdLength);
  CHECK(error_of(rr("001c 0001 0000012c 000f 000000000000000000000000000000")) == d::ParseError::BadRdLength);
  CHECK(error_of(rr("001c 0001 0000012c 0011 0000000000000000000000000000000000")) == d::ParseError::BadRdLength);
  CHECK(parsed(rr("001c 0001 0000012c 0010 20010db8000000000000000000000001")).answers[0].describe_rdata() ==
        "2001:db8::1");
  // RDLENGTH past the end of the message.
  CHECK(error_of(rr("0001 0001 0000012c 0008 cb007150")) == d::ParseError::Truncated);
  // A CNAME whose name runs past RDLENGTH (2 says "just a pointer", the name is 5 octets).
  CHECK(error_of(rr("0005 0001 0000012c 0002 03777777 00")) == d::ParseError::BadRdLength);
  // A CNAME shorter than RDLENGTH says (the name ends, RDATA goes on).
  CHECK(error_of(rr("0005 0001 0000012c 0004 c010 0000")) == d::ParseError::BadRdLength);
  CHECK(parsed(rr("0005 0001 0000012c 0002 c010")).answers[0].describe_rdata() == "domain.com.");
  // An SOA missing its numbers.
  CHECK(error_of(rr("0006 0001 0000012c 0004 c010 c010")) == d::ParseError::BadRdLength);
  // Unknown types are kept as opaque octets (RFC 3597).
  CHECK(parsed(rr("0063 0001 0000012c 0002 abcd")).answers[0].describe_rdata() == "\\# 2 ABCD");
}

TEST_CASE("dns: counts that lie (docs/hostile-inputs.md #79)") {
  const Bytes one = cat(cat(header(1, 1), kQuestion), test::hex("c00c 0001 0001 0000012c 0004 cb007150"));
  CHECK(parsed(one).answers.size() == 1);
  Bytes many = one;
  store_be16(many, 6, 65535);
  CHECK(error_of(many) == d::ParseError::Truncated);
  Bytes two_questions = one;
  store_be16(two_questions, 4, 2);
  CHECK(error_of(two_questions) == d::ParseError::Truncated);
  Bytes no_question = one;
  store_be16(no_question, 4, 0);
  CHECK(error_of(no_question) != d::ParseError::TooShort);  // the record bytes are read as junk
  Bytes trailing = cat(one, test::hex("00"));
  CHECK(error_of(trailing) == d::ParseError::TrailingBytes);
  CHECK(error_of(test::hex("1234 8180 0001 0000 0000")) == d::ParseError::TooShort);
  CHECK(d::parse_header(test::hex("1234 8180 0001 0000 0000 00")) == std::nullopt);
  // Every truncation of a good message fails cleanly.
  for (std::size_t n = 0; n < kCnameAnswer.size(); ++n) {
    CHECK_FALSE(d::parse(std::span(kCnameAnswer).first(n)).ok());
  }
}

TEST_CASE("dns: MX and PTR names may be compressed (RFC 1035 types), TXT strings shown as dig shows them") {
  // "domain.com MX?" answered with an MX, a TXT of two strings and a PTR; both names are
  // "www" + a pointer to the question's "domain.com" (0xc00c).
  const Bytes msg = test::hex(
      "123481800001000300000000"                      // header: 1 question, 3 answers
      "06646f6d61696e03636f6d00000f0001"              // domain.com. MX IN
      "c00c000f000100000e100008000a03777777c00c"      // MX 10 www.domain.com.
      "c00c0010000100000e10000c0374776f07737472696e6773"  // TXT "two" "strings"
      "c00c000c000100000e10000603777777c00c");        // PTR www.domain.com.
  auto m = d::parse(msg);
  REQUIRE(m.ok());
  REQUIRE(m->answers.size() == 3);
  CHECK(std::holds_alternative<d::rdata::Mx>(m->answers[0].data));
  CHECK(m->answers[0].describe_rdata() == "10 www.domain.com.");
  CHECK(m->answers[1].describe_rdata() == "\"two\" \"strings\"");
  CHECK(std::holds_alternative<d::rdata::Ptr>(m->answers[2].data));
  CHECK(m->answers[2].describe_rdata() == "www.domain.com.");
  // Out uncompressed, back the same.
  auto again = d::parse(m->emit());
  REQUIRE(again.ok());
  CHECK(*again == *m);
  // An MX whose name runs past its RDLENGTH, or one too short for the preference, is malformed.
  CHECK_FALSE(d::parse(test::hex("123481800001000100000000"
                                 "06646f6d61696e03636f6d00000f0001"
                                 "c00c000f000100000e100002000a")).ok());
}
