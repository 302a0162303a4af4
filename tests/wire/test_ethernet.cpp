// wire/ethernet: golden bytes, round trips, rejection of short frames.
#include <doctest/doctest.h>

#include "stack/wire/ethernet.hpp"
#include "support/bytes.hpp"

using namespace stack;
using namespace stack::wire;

// An ARP request as the kernel sent it into tap0 (tcpdump -xx -e on the sandbox's tap0):
// 46:e0:e8:63:d0:9e > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806); the ARP body is not looked at here.
static const Bytes kArpRequestFrame = test::hex(
    "ffffffffffff 46e0e863d09e 0806"
    "0001 0800 06 04 0001 46e0e863d09e 0a4d0001 000000000000 0a4d004a");

TEST_SUITE("wire/ethernet") {
  TEST_CASE("deconstruct a captured frame") {
    auto frame = ethernet::View::checked(kArpRequestFrame);
    REQUIRE(frame.has_value());
    CHECK(frame->destination() == MacAddress::broadcast());
    CHECK(frame->source() == MacAddress{{0x46, 0xe0, 0xe8, 0x63, 0xd0, 0x9e}});
    CHECK(frame->ethertype() == EtherType::Arp);
    CHECK(frame->payload().size() == 28);
  }

  TEST_CASE("construct the same header byte for byte") {
    Bytes out(kArpRequestFrame.size());
    auto view = ethernet::ViewMut::unchecked(out);
    ethernet::Repr{.src = {{0x46, 0xe0, 0xe8, 0x63, 0xd0, 0x9e}}, .dst = MacAddress::broadcast(), .ethertype = EtherType::Arp}
        .emit(view);
    CHECK(std::equal(out.begin(), out.begin() + 14, kArpRequestFrame.begin()));
  }

  TEST_CASE("parse and emit round trip") {
    auto frame = ethernet::View::checked(kArpRequestFrame);
    REQUIRE(frame);
    const auto repr = ethernet::Repr::parse(*frame);
    CHECK(repr.describe() == "46:e0:e8:63:d0:9e > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806)");
    Bytes out(ethernet::Repr::header_len());
    auto view = ethernet::ViewMut::unchecked(out);
    repr.emit(view);
    CHECK(ethernet::Repr::parse(*ethernet::View::checked(out)) == repr);
  }

  TEST_CASE("frames shorter than the 14-byte header are rejected") {
    for (std::size_t len = 0; len < ethernet::kHeaderLen; ++len) {
      CAPTURE(len);
      CHECK_FALSE(ethernet::View::checked(std::span(kArpRequestFrame).first(len)).has_value());
    }
    CHECK(ethernet::View::checked(std::span(kArpRequestFrame).first(14)).has_value());
  }

  TEST_CASE("unknown ethertypes survive a round trip") {
    Bytes out(14);
    auto view = ethernet::ViewMut::unchecked(out);
    view.set_ethertype(static_cast<EtherType>(0x88cc));  // LLDP
    CHECK(static_cast<std::uint16_t>(ethernet::View::unchecked(out).ethertype()) == 0x88cc);
    CHECK(describe(static_cast<EtherType>(0x88cc)) == "0x88cc");
  }

  TEST_CASE("MAC addresses parse and print like ip(8)") {
    CHECK(MacAddress::parse("02:00:00:00:00:01") == MacAddress{{2, 0, 0, 0, 0, 1}});
    CHECK(MacAddress::parse("02-AB-cd-00-00-01")->describe() == "02:ab:cd:00:00:01");
    CHECK_FALSE(MacAddress::parse("02:00:00:00:00").has_value());
    CHECK_FALSE(MacAddress::parse("02:00:00:00:00:0g").has_value());
    CHECK_FALSE(MacAddress::parse("02:00:00:00:00:011").has_value());
    CHECK(MacAddress{{2, 0, 0, 0, 0, 1}}.is_locally_administered());
    CHECK(MacAddress::broadcast().is_multicast());
  }
}
