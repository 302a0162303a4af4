// wire/ip_address: dotted-quad and CIDR parsing edge cases (RFC 791 §3.2; RFC 4632 §3.1).
#include <doctest/doctest.h>

#include "stack/wire/ip_address.hpp"

using namespace stack::wire;

TEST_SUITE("wire/ip_address") {
  TEST_CASE("dotted quads parse and print") {
    CHECK(Ipv4Address::parse("10.77.0.1") == Ipv4Address::from_octets(10, 77, 0, 1));
    CHECK(Ipv4Address::parse("10.77.0.1")->value == 0x0a4d0001u);
    CHECK(Ipv4Address::parse("0.0.0.0") == Ipv4Address::any());
    CHECK(Ipv4Address::parse("255.255.255.255") == Ipv4Address::broadcast());
    CHECK(Ipv4Address::from_octets(192, 168, 100, 7).describe() == "192.168.100.7");
    CHECK(Ipv4Address::any().describe() == "0.0.0.0");
  }

  TEST_CASE("leading zeros are rejected: inet_aton would read them as octal") {
    CHECK_FALSE(Ipv4Address::parse("010.77.0.1").has_value());
    CHECK_FALSE(Ipv4Address::parse("10.77.00.1").has_value());
    CHECK_FALSE(Ipv4Address::parse("10.77.0.001").has_value());
    CHECK(Ipv4Address::parse("10.0.0.0").has_value());  // a lone zero is fine
  }

  TEST_CASE("octets above 255 are rejected") {
    CHECK_FALSE(Ipv4Address::parse("256.0.0.1").has_value());
    CHECK_FALSE(Ipv4Address::parse("10.77.0.999").has_value());
    CHECK_FALSE(Ipv4Address::parse("10.77.0.1000").has_value());
    CHECK_FALSE(Ipv4Address::parse("10.77.0.4294967297").has_value());  // would wrap a 32-bit octet
  }

  TEST_CASE("missing, extra and empty parts are rejected (no inet_aton shorthand)") {
    for (const char* text : {"", ".", "10", "10.77", "10.77.1", "10.77.0.1.", "10.77.0.1.5", "10..0.1", ".10.77.0",
                             "10.77.0.", "10.77.0.1 ", " 10.77.0.1", "10.77.0.1/24", "10.77.0.x", "+10.77.0.1",
                             "-1.0.0.0", "0x0a.0.0.1", "10,77,0,1"}) {
      CAPTURE(text);
      CHECK_FALSE(Ipv4Address::parse(text).has_value());
    }
  }

  TEST_CASE("address classes") {
    CHECK(Ipv4Address::parse("224.0.0.251")->is_multicast());
    CHECK(Ipv4Address::parse("239.255.255.255")->is_multicast());
    CHECK_FALSE(Ipv4Address::parse("240.0.0.1")->is_multicast());
    CHECK(Ipv4Address::parse("127.0.0.53")->is_loopback());
    CHECK(Ipv4Address::any().is_unspecified());
    CHECK(Ipv4Address::broadcast().is_broadcast());
    CHECK(Ipv4Address::parse("10.77.0.1") < Ipv4Address::parse("10.77.0.2"));
  }

  TEST_CASE("CIDR prefixes parse, and the network and broadcast follow from the mask") {
    const auto c = Ipv4Cidr::parse("10.77.0.100/24");
    REQUIRE(c.has_value());
    CHECK(c->address == Ipv4Address::from_octets(10, 77, 0, 100));  // host bits are kept
    CHECK(c->prefix_len == 24);
    CHECK(c->mask() == 0xffffff00u);
    CHECK(c->network() == Ipv4Address::from_octets(10, 77, 0, 0));
    CHECK(c->broadcast() == Ipv4Address::from_octets(10, 77, 0, 255));
    CHECK(c->contains(Ipv4Address::from_octets(10, 77, 0, 1)));
    CHECK_FALSE(c->contains(Ipv4Address::from_octets(10, 77, 1, 1)));
    CHECK(c->describe() == "10.77.0.100/24");

    const auto all = Ipv4Cidr::parse("0.0.0.0/0");
    REQUIRE(all);
    CHECK(all->mask() == 0u);  // no shift by 32
    CHECK(all->contains(Ipv4Address::broadcast()));
    const auto host = Ipv4Cidr::parse("10.77.0.1/32");
    REQUIRE(host);
    CHECK(host->mask() == 0xffffffffu);
    CHECK(host->contains(Ipv4Address::from_octets(10, 77, 0, 1)));
    CHECK_FALSE(host->contains(Ipv4Address::from_octets(10, 77, 0, 2)));
  }

  TEST_CASE("CIDR: a prefix above 32, a missing prefix or a bad address is rejected") {
    for (const char* text : {"10.77.0.1/33", "10.77.0.1/255", "10.77.0.1/4294967320", "10.77.0.1/", "10.77.0.1",
                             "/24", "10.77.0.1/-1", "10.77.0.1/+24", "10.77.0.1/24/8", "10.77.0.1/24 ", "10.77.0/24",
                             "10.77.0.256/24", "10.77.0.1/2a"}) {
      CAPTURE(text);
      CHECK_FALSE(Ipv4Cidr::parse(text).has_value());
    }
  }

  TEST_CASE("prefix from a dotted netmask: contiguous masks only (DHCP option 1)") {
    CHECK(Ipv4Cidr::prefix_from_mask(*Ipv4Address::parse("255.255.255.0")) == 24);
    CHECK(Ipv4Cidr::prefix_from_mask(*Ipv4Address::parse("255.255.255.255")) == 32);
    CHECK(Ipv4Cidr::prefix_from_mask(*Ipv4Address::parse("0.0.0.0")) == 0);
    CHECK(Ipv4Cidr::prefix_from_mask(*Ipv4Address::parse("255.255.240.0")) == 20);
    CHECK(Ipv4Cidr::prefix_from_mask(*Ipv4Address::parse("128.0.0.0")) == 1);
    CHECK_FALSE(Ipv4Cidr::prefix_from_mask(*Ipv4Address::parse("255.0.255.0")).has_value());
    CHECK_FALSE(Ipv4Cidr::prefix_from_mask(*Ipv4Address::parse("0.255.255.255")).has_value());
    CHECK_FALSE(Ipv4Cidr::prefix_from_mask(*Ipv4Address::parse("255.255.255.1")).has_value());
    CHECK_FALSE(Ipv4Cidr::prefix_from_mask(*Ipv4Address::parse("255.255.254.255")).has_value());
  }
}
