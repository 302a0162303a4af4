// Narration lines that cite their frames (apps/common/frame_cite.*): a line names the number its
// frame has in the capture, waits for a frame that has not left yet, and never cites a frame that
// is not its own.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/common/frame_cite.hpp"
#include "drivers/frames.hpp"
#include "stack/wire/dhcpv4.hpp"

namespace {

using appkit::FrameCiter;
using appkit::FrameFacts;
using appkit::FrameWant;
using stack::Bytes;
using stack::Duration;
using stack::Instant;
using stack::wire::Ipv4Address;
using stack::wire::MacAddress;
namespace dhcp = stack::wire::dhcpv4;

constexpr MacAddress kRouterMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const Ipv4Address kUs = Ipv4Address::from_octets(10, 77, 0, 120);
const Ipv4Address kRouter = Ipv4Address::from_octets(10, 77, 0, 1);
const Ipv4Address kResolver = Ipv4Address::from_octets(198, 51, 100, 53);

Bytes udp_frame(Ipv4Address src, Ipv4Address dst, std::uint16_t sport, std::uint16_t dport, const Bytes& body) {
  Bytes f;
  test::put_ethernet(f, kRouterMac, test::kOurMac, 0x0800);
  test::put_ipv4(f, src, dst, 17, 8 + body.size());
  stack::store_be16(f, 34, sport);
  stack::store_be16(f, 36, dport);
  stack::store_be16(f, 38, static_cast<std::uint16_t>(8 + body.size()));
  stack::store_be16(f, 40, 0);  // no checksum (RFC 768): the citer does not check it
  for (std::size_t i = 0; i < body.size(); ++i) f[42 + i] = body[i];
  return f;
}

Bytes dhcp_frame(bool outgoing, dhcp::MessageType type, std::uint32_t xid) {
  dhcp::Repr m;
  m.op = outgoing ? dhcp::Op::BootRequest : dhcp::Op::BootReply;
  m.message_type = type;
  m.xid = xid;
  Bytes body(m.buffer_len());
  m.emit(body);
  return outgoing ? udp_frame(Ipv4Address::any(), Ipv4Address::broadcast(), 68, 67, body)
                  : udp_frame(kRouter, Ipv4Address::broadcast(), 67, 68, body);
}

Bytes dns_frame(bool outgoing, std::uint16_t id, Ipv4Address server) {
  Bytes body(12);
  stack::store_be16(body, 0, id);
  stack::store_u8(body, 2, outgoing ? 0x01 : 0x81);  // RD; QR+RD
  return outgoing ? udp_frame(kUs, server, 40000, 53, body) : udp_frame(server, kUs, 53, 40000, body);
}

// The lines said, as "cite|time in µs".
struct Said {
  std::vector<std::string> lines;
  FrameCiter::Emit emit(const std::string& name) {
    return [this, name](Instant at, const std::string& cite) {
      lines.push_back(name + " " + cite + "@" + std::to_string(at.micros()));
    };
  }
};

Instant at_us(std::int64_t us) { return Instant::from_micros(us); }

}  // namespace

TEST_CASE("frame facts: DHCP, ARP and DNS are told apart; TCP and the rest are not cited") {
  const auto discover = FrameFacts::of(true, dhcp_frame(true, dhcp::MessageType::Discover, 0x1234));
  CHECK(discover.kind == FrameFacts::Kind::Dhcp);
  CHECK(discover.id == 0x1234);
  CHECK(discover.dhcp_type == 1);
  const auto offer = FrameFacts::of(false, dhcp_frame(false, dhcp::MessageType::Offer, 0x1234));
  CHECK(offer.dhcp_type == 2);
  CHECK(offer.peer == kRouter);
  const auto probe = FrameFacts::of(true, test::arp_request(test::kOurMac, Ipv4Address::any(), kUs));
  CHECK(probe.kind == FrameFacts::Kind::Arp);
  CHECK(probe.arp_op == 1);
  CHECK(probe.sender == Ipv4Address::any());
  CHECK(probe.target == kUs);
  CHECK(probe.broadcast);
  const auto query = FrameFacts::of(true, dns_frame(true, 0xbeef, kResolver));
  CHECK(query.kind == FrameFacts::Kind::Dns);
  CHECK(query.id == 0xbeef);
  CHECK(query.peer == kResolver);
  CHECK_FALSE(query.response);
  const auto reply = FrameFacts::of(false, dns_frame(false, 0xbeef, kResolver));
  CHECK(reply.response);
  CHECK(reply.peer == kResolver);
  const auto syn = test::tcp_segment(kRouterMac, test::kOurMac, kUs, kResolver, 40000, 80, 1, 0, 0x02, 65535, 1460);
  CHECK(FrameFacts::of(true, syn).kind == FrameFacts::Kind::Other);
  CHECK(FrameFacts::of(true, Bytes(10)).kind == FrameFacts::Kind::Other);  // cut short: nothing, no crash
  Bytes cut = dns_frame(true, 1, kResolver);
  cut.resize(45);
  CHECK(FrameFacts::of(true, cut).kind == FrameFacts::Kind::Other);
}

TEST_CASE("frame citer: a line told before its frame waits for it and takes its number and time") {
  FrameCiter citer(true, 2);  // two frames already in the capture
  Said said;
  citer.say({FrameWant::dhcp(true, 7, 1)}, at_us(100), said.emit("DISCOVER"));
  CHECK(said.lines.empty());
  CHECK(citer.held() == 1);
  const auto syn = test::tcp_segment(kRouterMac, test::kOurMac, kUs, kResolver, 40000, 80, 1, 0, 0x02, 65535);
  citer.on_frame(true, at_us(110), syn);  // frame 3: not its frame
  CHECK(said.lines.empty());
  citer.on_frame(true, at_us(120), dhcp_frame(true, dhcp::MessageType::Discover, 7));  // frame 4
  REQUIRE(said.lines.size() == 1);
  CHECK(said.lines[0] == "DISCOVER [frame 4] @120");
  CHECK(citer.frames() == 4);
}

TEST_CASE("frame citer: a line told after its frame cites it at once; a reply is never an outgoing frame") {
  FrameCiter citer(true, 0);
  Said said;
  citer.on_frame(true, at_us(10), dns_frame(true, 0x42, kResolver));   // 1
  citer.on_frame(false, at_us(50), dns_frame(false, 0x42, kResolver));  // 2
  citer.say({FrameWant::dns(true, 0x42, kResolver)}, at_us(60), said.emit("query"));
  citer.say({FrameWant::dns(false, 0x42, kResolver)}, at_us(70), said.emit("answer"));
  REQUIRE(said.lines.size() == 2);
  CHECK(said.lines[0] == "query [frame 1] @60");
  CHECK(said.lines[1] == "answer [frame 2] @70");
  // Another server's reply with the same ID is not this line's frame.
  citer.say({FrameWant::dns(false, 0x42, kRouter)}, at_us(80), said.emit("other"));
  CHECK(said.lines.back() == "other @80");
}

TEST_CASE("frame citer: two frames for one line (the walk's query and reply)") {
  FrameCiter citer(true, 0);
  Said said;
  const auto root = Ipv4Address::from_octets(198, 51, 100, 1);
  citer.on_frame(true, at_us(10), dns_frame(true, 9, root));
  citer.on_frame(true, at_us(11), dns_frame(true, 10, kResolver));
  citer.on_frame(false, at_us(40), dns_frame(false, 9, root));
  citer.say({FrameWant::dns(true, 9, root), FrameWant::dns(false, 9, root)}, at_us(41), said.emit("walk"));
  REQUIRE(said.lines.size() == 1);
  CHECK(said.lines[0] == "walk [frames 1, 3] @41");
}

TEST_CASE("frame citer: retries each cite their own transmission; two lines about one reply both cite it") {
  FrameCiter citer(true, 0);
  Said said;
  const auto request = [] {
    auto w = FrameWant::arp(true, 1, std::nullopt, kRouter);
    w.broadcast = true;
    return w;
  }();
  citer.on_frame(true, at_us(1), test::arp_request(test::kOurMac, kUs, kRouter));  // 1
  citer.say({request}, at_us(1), said.emit("try1"));
  citer.on_frame(true, at_us(1000), test::arp_request(test::kOurMac, kUs, kRouter));  // 2
  citer.say({request}, at_us(1000), said.emit("try2"));
  Bytes reply = test::arp_request(kRouterMac, kRouter, kUs);
  stack::store_be16(reply, 20, 2);  // op reply
  citer.on_frame(false, at_us(1200), reply);  // 3
  citer.say({FrameWant::arp(false, 2, kRouter, std::nullopt)}, at_us(1201), said.emit("reply"));
  auto from = FrameWant::arp(false, 0, kRouter, std::nullopt);
  from.arp_op.reset();
  citer.say({from}, at_us(1202), said.emit("resolved"));
  REQUIRE(said.lines.size() == 4);
  CHECK(said.lines[0] == "try1 [frame 1] @1");
  CHECK(said.lines[1] == "try2 [frame 2] @1000");
  CHECK(said.lines[2] == "reply [frame 3] @1201");
  CHECK(said.lines[3] == "resolved [frame 3] @1202");
}

TEST_CASE("frame citer: a frame that never leaves leaves its line uncited, never with another frame's number") {
  FrameCiter citer(true, 0);
  Said said;
  // A query held behind an ARP resolution that failed; c-ares' retry (same ID) did leave.
  citer.say({FrameWant::dns(true, 5, kResolver)}, at_us(0), said.emit("try1"));
  citer.say({FrameWant::dns(true, 5, kResolver)}, at_us(2000), said.emit("try2"));
  REQUIRE(said.lines.size() == 1);
  CHECK(said.lines[0] == "try1 @0");
  citer.on_frame(true, at_us(2100), dns_frame(true, 5, kResolver));
  REQUIRE(said.lines.size() == 2);
  CHECK(said.lines[1] == "try2 [frame 1] @2100");
  // Held past kHoldLimit: said, uncited, at the next frame.
  citer.say({FrameWant::dns(true, 6, kResolver)}, at_us(3000), said.emit("late"));
  citer.on_frame(true, at_us(3000) + FrameCiter::kHoldLimit + Duration::from_millis(1),
                 test::arp_request(test::kOurMac, kUs, kRouter));
  REQUIRE(said.lines.size() == 3);
  CHECK(said.lines[2].rfind("late @", 0) == 0);
  // And whatever still waits at exit.
  citer.say({FrameWant::dhcp(true, 1, 3)}, at_us(9000000), said.emit("last"));
  CHECK(citer.held() == 1);
  citer.flush();
  CHECK(said.lines.back() == "last @9000000");
  CHECK(citer.held() == 0);
}

TEST_CASE("frame citer: without a capture nothing is cited or held") {
  FrameCiter citer(false, 0);
  Said said;
  citer.say({FrameWant::dhcp(true, 7, 1)}, at_us(5), said.emit("DISCOVER"));
  REQUIRE(said.lines.size() == 1);
  CHECK(said.lines[0] == "DISCOVER @5");
  citer.on_frame(true, at_us(6), dhcp_frame(true, dhcp::MessageType::Discover, 7));
  CHECK(citer.frames() == 1);
  CHECK(said.lines.size() == 1);
}

TEST_CASE("frame wants of DHCP and stack events") {
  namespace ev = stack::socket::dhcp_event;
  dhcp::Repr m;
  m.message_type = dhcp::MessageType::Request;
  m.xid = 99;
  const auto sent = appkit::wants_of(stack::socket::DhcpEvent{ev::Sent{m, {Ipv4Address::broadcast(), 67}, 1}});
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].matches(FrameFacts::of(true, dhcp_frame(true, dhcp::MessageType::Request, 99))));
  CHECK_FALSE(sent[0].matches(FrameFacts::of(true, dhcp_frame(true, dhcp::MessageType::Discover, 99))));
  CHECK_FALSE(sent[0].matches(FrameFacts::of(true, dhcp_frame(true, dhcp::MessageType::Request, 98))));
  const auto probe = appkit::wants_of(stack::socket::DhcpEvent{ev::ProbeSent{kUs, 1}});
  REQUIRE(probe.size() == 1);
  CHECK(probe[0].matches(FrameFacts::of(true, test::arp_request(test::kOurMac, Ipv4Address::any(), kUs))));
  CHECK_FALSE(probe[0].matches(FrameFacts::of(true, test::arp_request(test::kOurMac, kUs, kUs))));  // the announcement
  CHECK(appkit::wants_of(stack::socket::DhcpEvent{ev::StateChanged{}}).empty());
  const auto who_has = appkit::wants_of(stack::Event{stack::event::ArpRequestSent{kRouter, 1}});
  REQUIRE(who_has.size() == 1);
  CHECK(who_has[0].matches(FrameFacts::of(true, test::arp_request(test::kOurMac, kUs, kRouter))));
  const auto announce = appkit::wants_of(stack::Event{stack::event::GratuitousArpSent{kUs}});
  REQUIRE(announce.size() == 1);
  CHECK(announce[0].matches(FrameFacts::of(true, test::arp_request(test::kOurMac, kUs, kUs))));
  CHECK(appkit::wants_of(stack::Event{stack::event::ArpFailed{kRouter, 3, 1}}).empty());
}
