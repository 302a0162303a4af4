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

// A segment of a DNS connection over TCP between us (port 40001) and `server`:53 with `payload`
// (RFC 7766: each message after its 2-octet length).
Bytes dns_tcp_frame(bool outgoing, Ipv4Address server, std::uint32_t seq, std::uint8_t flags, const Bytes& payload = {}) {
  const Ipv4Address src = outgoing ? kUs : server, dst = outgoing ? server : kUs;
  Bytes f;
  test::put_ethernet(f, kRouterMac, test::kOurMac, 0x0800);
  test::put_ipv4(f, src, dst, 6, 20 + payload.size());
  stack::store_be16(f, 34, outgoing ? 40001 : 53);
  stack::store_be16(f, 36, outgoing ? 53 : 40001);
  stack::store_be32(f, 38, seq);
  stack::store_be32(f, 42, (flags & 0x10) ? 1 : 0);
  stack::store_u8(f, 46, 5 << 4);
  stack::store_u8(f, 47, flags);
  stack::store_be16(f, 48, 65535);
  for (std::size_t i = 0; i < payload.size(); ++i) f[54 + i] = payload[i];
  stack::wire::ChecksumAccumulator sum;
  sum.add_pseudo_header(src, dst, stack::wire::IpProtocol::Tcp, static_cast<std::uint16_t>(20 + payload.size()));
  sum.add(std::span<const std::byte>(f).subspan(34));
  stack::store_be16(f, 50, sum.finish());
  return f;
}

// A DNS message of `len` octets (header: `id`, QR for a response) after its 2-octet length.
Bytes framed_dns(std::uint16_t id, bool response, std::size_t len) {
  Bytes m(2 + len);
  stack::store_be16(m, 0, static_cast<std::uint16_t>(len));
  stack::store_be16(m, 2, id);
  stack::store_u8(m, 4, response ? 0x81 : 0x01);
  return m;
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

TEST_CASE("frame citer: DNS over TCP, the SYN, the SYN+ACK, the segment that completes each message, our FIN") {
  using Segment = FrameFacts::Segment;
  constexpr std::uint8_t kSyn = 0x02, kAck = 0x10, kPsh = 0x08, kFin = 0x01;
  FrameCiter citer(true, 0);
  Said said;
  // The connection is announced before its SYN leaves; the SYN+ACK line after it came.
  citer.say({FrameWant::dns_tcp(true, Segment::Syn, kResolver)}, at_us(10), said.emit("connecting"));
  CHECK(said.lines.empty());
  citer.on_frame(true, at_us(11), dns_tcp_frame(true, kResolver, 1000, kSyn));          // 1
  citer.on_frame(false, at_us(20), dns_tcp_frame(false, kResolver, 5000, kSyn | kAck));  // 2
  citer.on_frame(true, at_us(21), dns_tcp_frame(true, kResolver, 1001, kAck));          // 3
  citer.say({FrameWant::dns_tcp(false, Segment::SynAck, kResolver)}, at_us(22), said.emit("established"));
  // The query: one segment. The answer: 1,600 octets in two segments, the second completing it.
  citer.say({FrameWant::dns_tcp(true, Segment::Message, kResolver, 0x77)}, at_us(23), said.emit("query"));
  citer.on_frame(true, at_us(24), dns_tcp_frame(true, kResolver, 1001, kAck | kPsh, framed_dns(0x77, false, 40)));  // 4
  const Bytes answer = framed_dns(0x77, true, 1600);
  const Bytes first(answer.begin(), answer.begin() + 1460), second(answer.begin() + 1460, answer.end());
  citer.on_frame(false, at_us(30), dns_tcp_frame(false, kResolver, 5001, kAck, first));            // 5
  CHECK(FrameFacts::of(false, dns_tcp_frame(false, kResolver, 5001, kAck, first)).segment == Segment::None);
  citer.on_frame(false, at_us(31), dns_tcp_frame(false, kResolver, 5001, kAck, first));            // 6: a retransmission
  citer.on_frame(false, at_us(32), dns_tcp_frame(false, kResolver, 5001 + 1460, kAck | kPsh, second));  // 7
  citer.say({FrameWant::dns_tcp(false, Segment::Message, kResolver, 0x77)}, at_us(40), said.emit("answer"));
  // The UDP query of the same ID (before the TC=1) is not the TCP answer's frame, nor the reverse.
  citer.say({FrameWant::dns(false, 0x77, kResolver)}, at_us(41), said.emit("udp"));
  citer.say({FrameWant::dns_tcp(true, Segment::Fin, kResolver)}, at_us(42), said.emit("closing"));
  citer.on_frame(true, at_us(43), dns_tcp_frame(true, kResolver, 1001 + 42, kAck | kFin));  // 8
  REQUIRE(said.lines.size() == 6);
  CHECK(said.lines[0] == "connecting [frame 1] @11");
  CHECK(said.lines[1] == "established [frame 2] @22");
  CHECK(said.lines[2] == "query [frame 4] @24");
  CHECK(said.lines[3] == "answer [frame 7] @40");
  CHECK(said.lines[4] == "udp @41");
  CHECK(said.lines[5] == "closing [frame 8] @43");
  // A port-80 segment is no DNS frame; a stream whose octets went missing is followed no further.
  CHECK(FrameFacts::of(true, test::tcp_segment(kRouterMac, test::kOurMac, kUs, kResolver, 40000, 80, 1, 0, kSyn, 65535))
            .kind == FrameFacts::Kind::Other);
  FrameCiter gap(true, 0);
  gap.on_frame(false, at_us(1), dns_tcp_frame(false, kResolver, 5000, kSyn | kAck));                 // 1
  gap.on_frame(false, at_us(2), dns_tcp_frame(false, kResolver, 5001 + 1460, kAck | kPsh, second));  // 2: the first is missing
  gap.say({FrameWant::dns_tcp(false, Segment::Message, kResolver, 0x77)}, at_us(3), said.emit("gap"));
  CHECK(said.lines.back() == "gap @3");
}
