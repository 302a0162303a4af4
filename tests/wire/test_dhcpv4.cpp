// wire/dhcpv4: golden bytes of a real exchange, emit/parse round trips, and every malformed
// option area of docs/hostile-inputs.md #66–#69 rejected with its named reason.
//
// Golden bytes: a throw-away capture (tcpdump -xx) on a veth pair between two private network
// namespaces: dnsmasq 2.90 (`--dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,1h
// --dhcp-option=option:router,10.77.0.1 --dhcp-option=option:dns-server,198.51.100.53
// --dhcp-rapid-commit --no-ping`) serving BusyBox 1.35.0 `udhcpc -B -x hostname:ustack` with
// MAC 02:75:73:aa:bb:cc. The UDP payloads below are verbatim; the zero runs of sname/file and the
// trailing padding are written as lengths to keep them readable.
#include <doctest/doctest.h>

#include <algorithm>

#include "stack/wire/dhcpv4.hpp"
#include "support/bytes.hpp"

using namespace stack;
using namespace stack::wire;
using namespace stack::wire::dhcpv4;

namespace {

// A DHCP message: `fixed` (op … chaddr, up to 44 bytes) zero-padded to 236 bytes, then the cookie
// and `options`, zero-padded to `total`.
Bytes message(std::string_view fixed, std::string_view options, std::size_t total = 300) {
  Bytes out = test::hex(fixed);
  out.resize(field::magic.begin, std::byte{0});
  const Bytes opt = test::hex(options);
  const Bytes cookie = test::hex("63825363");
  out.insert(out.end(), cookie.begin(), cookie.end());
  out.insert(out.end(), opt.begin(), opt.end());
  if (out.size() < total) out.resize(total, std::byte{0});
  return out;
}

constexpr std::string_view kClientFixed = "01010600 3e7ade0f 0000 8000 00000000 00000000 00000000 00000000 027573aabbcc";
constexpr std::string_view kServerFixed = "02010600 3e7ade0f 0000 8000 00000000 0a4d0087 0a4d0001 00000000 027573aabbcc";

// udhcpc's DHCPDISCOVER: 53=1, 57=576, 55={1,3,6,12,15,28,42}, 12="ustack", 60="udhcp 1.35.0", 61=01+MAC.
const Bytes kDiscover = message(kClientFixed,
                                "350101 39020240 37070103060c0f1c2a 0c0675737461636b"
                                "3c0c756468637020312e33352e30 3d0701027573aabbcc ff");
// dnsmasq's DHCPOFFER of 10.77.0.135: 53=2, 54, 51=3600, 58=1800, 59=3150, 1, 28, 6, 3.
const Bytes kOffer = message(kServerFixed,
                             "350102 36040a4d0001 330400000e10 3a0400000708 3b0400000c4e 0104ffffff00"
                             "1c040a4d00ff 0604c6336435 03040a4d0001 ff");
// udhcpc's DHCPREQUEST (SELECTING): 50 and 54 added.
const Bytes kRequest = message(kClientFixed,
                               "350103 32040a4d0087 36040a4d0001 39020240 37070103060c0f1c2a"
                               "0c0675737461636b 3c0c756468637020312e33352e30 3d0701027573aabbcc ff");
// dnsmasq's DHCPACK: as the OFFER, plus the hostname echoed.
const Bytes kAck = message(kServerFixed,
                           "350105 36040a4d0001 330400000e10 3a0400000708 3b0400000c4e 0104ffffff00"
                           "1c040a4d00ff 0c0675737461636b 0604c6336435 03040a4d0001 ff");

// Rapid Commit (RFC 4039), captured with `ustack dhcp --pcap` on the sandbox's TAP device against
// its dnsmasq 2.90 (`dhcp-rapid-commit`): our DISCOVER (53, 61, 55, 80) and dnsmasq's ACK with
// option 80 echoed; then our DHCPRELEASE (--release-on-exit), unicast from ciaddr.
const Bytes kOurDiscover = message("01010600 09e8df84 0000 8000 00000000 00000000 00000000 00000000 027573400476",
                                   "350101 3d0701027573400476 3706010306 0f1a1c 5000 ff");
const Bytes kRapidAck = message("02010600 09e8df84 0000 8000 00000000 0a4d0066 0a4d0001 00000000 027573400476",
                                "350105 36040a4d0001 330400000e10 5000 3a0400000708 3b0400000c4e 0104ffffff00"
                                "1c040a4d00ff 0604c6336435 03040a4d0001 ff");
const Bytes kOurRelease = message("01010600 be8687c6 0000 0000 0a4d0066 00000000 00000000 00000000 027573400476",
                                  "350107 3d0701027573400476 36040a4d0001 ff");

const MacAddress kClientMac{{0x02, 0x75, 0x73, 0xaa, 0xbb, 0xcc}};
const Ipv4Address kServer = Ipv4Address::from_octets(10, 77, 0, 1);
const Ipv4Address kOffered = Ipv4Address::from_octets(10, 77, 0, 135);

// A reply with the given options (after the cookie).
Bytes reply_with(std::string_view options, std::size_t total = 300) { return message(kServerFixed, options, total); }

ParseError error_of(const Bytes& b) {
  auto r = Repr::parse(b);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

namespace doctest {
template <>
struct StringMaker<ParseError> {
  static String convert(ParseError e) { return to_string(e); }
};
}  // namespace doctest

TEST_SUITE("wire/dhcpv4") {
  TEST_CASE("golden: udhcpc's DISCOVER parses (RFC 2131 §4.4.1)") {
    REQUIRE(kDiscover.size() == 300);
    auto r = Repr::parse(kDiscover);
    REQUIRE(r.ok());
    CHECK(r->op == Op::BootRequest);
    CHECK(r->message_type == MessageType::Discover);
    CHECK(r->xid == 0x3e7ade0fu);
    CHECK(r->broadcast);
    CHECK(r->chaddr == kClientMac);
    CHECK(r->ciaddr.is_unspecified());
    CHECK(r->max_message_size == 576);
    CHECK(r->parameter_request_list == std::vector<std::uint8_t>{1, 3, 6, 12, 15, 28, 42});
    CHECK(r->host_name == "ustack");
    REQUIRE(r->client_id.has_value());
    CHECK(*r->client_id == test::hex("01027573aabbcc"));
    CHECK_FALSE(r->rapid_commit);
  }

  TEST_CASE("golden: dnsmasq's OFFER and ACK parse with every option we use") {
    for (const Bytes* b : {&kOffer, &kAck}) {
      auto r = Repr::parse(*b);
      REQUIRE(r.ok());
      CHECK(r->op == Op::BootReply);
      CHECK(r->message_type == (b == &kOffer ? MessageType::Offer : MessageType::Ack));
      CHECK(r->xid == 0x3e7ade0fu);
      CHECK(r->yiaddr == kOffered);
      CHECK(r->siaddr == kServer);
      CHECK(r->server_id == kServer);
      CHECK(r->lease_time == 3600u);
      CHECK(r->renewal_time == 1800u);
      CHECK(r->rebinding_time == 3150u);
      CHECK(r->subnet_mask == Ipv4Address::from_octets(255, 255, 255, 0));
      CHECK(r->routers == std::vector{kServer});
      CHECK(r->dns_servers == std::vector{Ipv4Address::from_octets(198, 51, 100, 53)});
    }
    CHECK(Repr::parse(kAck)->host_name == "ustack");
  }

  TEST_CASE("golden: udhcpc's REQUEST carries requested address and server id (RFC 2131 §4.3.2)") {
    auto r = Repr::parse(kRequest);
    REQUIRE(r.ok());
    CHECK(r->message_type == MessageType::Request);
    CHECK(r->requested_ip == kOffered);
    CHECK(r->server_id == kServer);
    CHECK(r->ciaddr.is_unspecified());
  }

  TEST_CASE("golden: rapid commit against dnsmasq; our own messages re-emit byte for byte") {
    auto ack = Repr::parse(kRapidAck);
    REQUIRE(ack.ok());
    CHECK(ack->message_type == MessageType::Ack);
    CHECK(ack->rapid_commit);
    CHECK(ack->yiaddr == Ipv4Address::from_octets(10, 77, 0, 102));
    for (const Bytes* b : {&kOurDiscover, &kOurRelease}) {
      auto r = Repr::parse(*b);
      REQUIRE(r.ok());
      CHECK(r->to_bytes() == *b);
    }
    CHECK(Repr::parse(kOurDiscover)->rapid_commit);
    CHECK(Repr::parse(kOurRelease)->ciaddr == Ipv4Address::from_octets(10, 77, 0, 102));
  }

  TEST_CASE("emit: our DISCOVER, byte for byte, padded to 300 (RFC 1542 §3.2.1)") {
    Repr d;
    d.op = Op::BootRequest;
    d.message_type = MessageType::Discover;
    d.xid = 0x3e7ade0f;
    d.broadcast = true;
    d.chaddr = kClientMac;
    d.client_id = test::hex("01027573aabbcc");
    d.host_name = "ustack";
    d.parameter_request_list = {1, 3, 6, 15, 26, 28};
    d.rapid_commit = true;
    const Bytes expected = message(kClientFixed, "350101 3d0701027573aabbcc 0c0675737461636b 3706010306 0f1a1c 5000 ff");
    CHECK(d.buffer_len() == 300);
    CHECK(d.to_bytes() == expected);
    auto back = Repr::parse(expected);
    REQUIRE(back.ok());
    CHECK(*back == d);
  }

  TEST_CASE("round trip: every option survives emit then parse") {
    Repr a;
    a.op = Op::BootReply;
    a.message_type = MessageType::Ack;
    a.xid = 42;
    a.secs = 3;
    a.ciaddr = Ipv4Address::from_octets(10, 77, 0, 9);
    a.yiaddr = kOffered;
    a.siaddr = kServer;
    a.giaddr = Ipv4Address::from_octets(10, 0, 0, 1);
    a.chaddr = kClientMac;
    a.subnet_mask = Ipv4Address::from_octets(255, 255, 255, 0);
    a.routers = {kServer, Ipv4Address::from_octets(10, 77, 0, 2)};
    a.dns_servers = {Ipv4Address::from_octets(198, 51, 100, 53)};
    a.host_name = "h";
    a.domain_name = "lab.test";
    a.mtu = 1400;
    a.requested_ip = kOffered;
    a.lease_time = 0xffffffffu;
    a.server_id = kServer;
    a.parameter_request_list = {1, 3};
    a.message = "ok";
    a.max_message_size = 1500;
    a.renewal_time = 10;
    a.rebinding_time = 20;
    a.client_id = Bytes(300, std::byte{7});  // longer than 255: split in two (RFC 3396 §5)
    a.rapid_commit = true;
    const Bytes b = a.to_bytes();
    CHECK(b.size() > 300);
    auto back = Repr::parse(b);
    REQUIRE(back.ok());
    CHECK(*back == a);
  }

  TEST_CASE("describe: one line with the names a narrator needs") {
    CHECK(Repr::parse(kAck)->describe() ==
          "DHCPACK xid 0x3e7ade0f [B] yiaddr 10.77.0.135 server 10.77.0.1 lease 3600 s");
    CHECK(Repr::parse(kDiscover)->describe() == "DHCPDISCOVER xid 0x3e7ade0f from 02:75:73:aa:bb:cc [B]");
  }

  // --- the fixed part --------------------------------------------------------------------------
  TEST_CASE("malformed: shorter than the fixed part and cookie") {
    Bytes b = kAck;
    b.resize(239);
    CHECK(error_of(b) == ParseError::TooShort);
    CHECK(error_of(Bytes{}) == ParseError::TooShort);
  }

  TEST_CASE("malformed: no magic cookie (plain BOOTP or garbage)") {
    Bytes b = kAck;
    b[field::magic.begin + 3] = std::byte{0x64};
    CHECK(error_of(b) == ParseError::BadMagicCookie);
  }

  TEST_CASE("malformed: op neither BOOTREQUEST nor BOOTREPLY; not Ethernet") {
    Bytes b = kAck;
    b[field::op] = std::byte{3};
    CHECK(error_of(b) == ParseError::BadOp);
    b = kAck;
    b[field::htype] = std::byte{6};
    CHECK(error_of(b) == ParseError::BadHardwareType);
    b = kAck;
    b[field::hlen] = std::byte{16};
    CHECK(error_of(b) == ParseError::BadHardwareType);
  }

  // --- the option area (docs/hostile-inputs.md #68) --------------------------------------------------
  TEST_CASE("malformed: an option length running past the packet") {
    // Option 6 claims 200 bytes where 4 remain; the buffer is exactly as long as the options.
    CHECK(error_of(reply_with("350105 06c8c6336435", 0)) == ParseError::OptionOverrun);
    // The last byte is an option code with no room for its length.
    CHECK(error_of(reply_with("350105 06", 0)) == ParseError::OptionOverrun);
  }

  TEST_CASE("malformed: no END option (RFC 2131 §4.1; lwIP test_dhcp_nak_no_endmarker)") {
    CHECK(error_of(reply_with("350106 36040a4d0001")) == ParseError::MissingEnd);  // padded with PAD to 300
    CHECK(error_of(reply_with("350106 36040a4d0001", 0)) == ParseError::MissingEnd);
  }

  TEST_CASE("PAD runs are skipped, anywhere") {
    auto r = Repr::parse(reply_with("00000000 350105 0000 36040a4d0001 000000000000 330400000e10 0104ffffff00 ff"));
    REQUIRE(r.ok());
    CHECK(r->server_id == kServer);
    CHECK(r->lease_time == 3600u);
  }

  TEST_CASE("malformed: fixed-size options with the wrong length (CVE-2018-20679)") {
    const char* cases[] = {
        "350105 0100 ff",                     // subnet mask, length 0
        "350105 0103ffffff ff",               // subnet mask, length 3
        "350105 3303000e10 ff",               // lease time, length 3
        "350105 0305c633643501 ff",           // router, length 5: not a multiple of 4
        "350105 0300 ff",                     // router, zero-length list
        "350105 0600 ff",                     // DNS, zero-length list
        "350105 0602c633 ff",                 // DNS, length 2
        "35020105 ff",                        // message type, length 2
        "350105 360300000a ff",               // server id, length 3
        "350105 1a0105 ff",                   // MTU, length 1
        "350105 500101 ff",                   // rapid commit, length 1 (RFC 4039 §4: length 0)
        "350105 3a03000007 ff",               // T1, length 3
        "350105 0c00 ff",                     // hostname, length 0
        "350105 3d0101 ff",                   // client id, length 1
    };
    for (const char* c : cases) {
      CAPTURE(c);
      CHECK(error_of(reply_with(c)) == ParseError::BadOptionLength);
    }
  }

  TEST_CASE("malformed: strings with an embedded NUL or control byte; a trailing NUL is tolerated") {
    CHECK(error_of(reply_with("350105 0c0475730074 ff")) == ParseError::BadString);     // "us\0t"
    CHECK(error_of(reply_with("350105 0f036c610a ff")) == ParseError::BadString);       // "la\n"
    CHECK(error_of(reply_with("350105 38026f80 ff")) == ParseError::BadString);         // 0x80
    auto r = Repr::parse(reply_with("350105 0f096c61622e7465737400 ff"));               // "lab.test\0"
    REQUIRE(r.ok());
    CHECK(r->domain_name == "lab.test");
  }

  TEST_CASE("malformed: no message type, or an unknown one") {
    CHECK(error_of(reply_with("36040a4d0001 ff")) == ParseError::MissingMessageType);
    CHECK(error_of(reply_with("350109 ff")) == ParseError::BadMessageType);
    CHECK(error_of(reply_with("350100 ff")) == ParseError::BadMessageType);
  }

  TEST_CASE("malformed: MTU below 68 (RFC 2132 §5.1)") {
    CHECK(error_of(reply_with("350105 1a020043 ff")) == ParseError::BadMtu);
    CHECK(Repr::parse(reply_with("350105 1a020044 ff"))->mtu == 68);
  }

  TEST_CASE("unknown options are skipped") {
    auto r = Repr::parse(reply_with("350105 fe03010203 2b00 36040a4d0001 ff"));
    REQUIRE(r.ok());
    CHECK(r->server_id == kServer);
  }

  // --- RFC 3396 concatenation and RFC 2132 §9.3 overload (docs/hostile-inputs.md #69) ---------------
  TEST_CASE("RFC 3396: a split option is concatenated in order") {
    auto r = Repr::parse(reply_with("350105 0604c6336435 06040a4d0001 ff"));
    REQUIRE(r.ok());
    CHECK(r->dns_servers == std::vector{Ipv4Address::from_octets(198, 51, 100, 53), kServer});
  }

  TEST_CASE("RFC 3396: the concatenation is capped") {
    std::string opts = "350105";
    for (int i = 0; i < 5; ++i) opts += "3dff" + std::string(255 * 2, 'a');  // 5 × 255 > 1024
    opts += "ff";
    CHECK(error_of(reply_with(opts)) == ParseError::OptionTooLong);
  }

  // Builds a reply whose `file` (108..236) and `sname` (44..108) hold the given option bytes.
  auto overloaded = [](std::string_view options, std::string_view file, std::string_view sname) {
    Bytes b = reply_with(options);
    const Bytes f = test::hex(file);
    const Bytes s = test::hex(sname);
    std::copy(f.begin(), f.end(), b.begin() + static_cast<std::ptrdiff_t>(field::file.begin));
    std::copy(s.begin(), s.end(), b.begin() + static_cast<std::ptrdiff_t>(field::sname.begin));
    return b;
  };

  TEST_CASE("overload 1/2/3: options in file, then sname (RFC 3396 §7 order)") {
    auto r = Repr::parse(overloaded("350105 340101 ff", "36040a4d0001 ff", "0604c6336435 ff"));
    REQUIRE(r.ok());
    CHECK(r->server_id == kServer);
    CHECK(r->dns_servers.empty());  // sname not overloaded: its bytes are a server name
    r = Repr::parse(overloaded("350105 340102 ff", "36040a4d0001 ff", "0604c6336435 ff"));
    REQUIRE(r.ok());
    CHECK_FALSE(r->server_id.has_value());
    CHECK(r->dns_servers.size() == 1);
    r = Repr::parse(overloaded("350105 340103 ff", "0604c6336435 ff", "06040a4d0001"));  // sname without END
    REQUIRE(r.ok());
    CHECK(r->dns_servers == std::vector{Ipv4Address::from_octets(198, 51, 100, 53), kServer});
  }

  TEST_CASE("malformed: overload value 0 or > 3, wrong length, or 52 again inside file") {
    CHECK(error_of(overloaded("350105 340100 ff", "", "")) == ParseError::BadOverload);
    CHECK(error_of(overloaded("350105 340104 ff", "", "")) == ParseError::BadOverload);
    CHECK(error_of(overloaded("350105 34020101 ff", "", "")) == ParseError::BadOverload);
    CHECK(error_of(overloaded("350105 340101 ff", "340103 ff", "")) == ParseError::BadOverload);
  }

  TEST_CASE("malformed: an option inside file running past the field (lwIP test_dhcp_invalid_overload)") {
    // The file field is 128 bytes: an option at its last byte but one claiming 10 bytes.
    std::string file(126 * 2, '0');
    file += "060a";
    CHECK(error_of(overloaded("350105 340101 ff", file, "")) == ParseError::OptionOverrun);
  }
}
