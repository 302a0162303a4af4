// iface/interface: ARP, IPv4, ICMP and UDP handling of one interface, in virtual time.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "support/bytes.hpp"
#include "support/iface_harness.hpp"

using namespace test::ifh;
using stack::DropReason;
using stack::Duration;
namespace arp = stack::wire::arp;
namespace ipv4 = stack::wire::ipv4;
namespace icmpv4 = stack::wire::icmpv4;
using stack::wire::IpProtocol;

namespace {
ipv4::Repr ip_from_router(IpProtocol proto, Ipv4Address dst = kOurIp) {
  return ipv4::Repr{.src = kRouterIp, .dst = dst, .protocol = proto, .ttl = 64, .ident = 0x1c46};
}
Bytes pattern(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>(i * 7 + 3);
  return b;
}
// A SYN from 40000 to port 80 (where the tests listen to nothing), its checksum made for src/dst.
Bytes syn_to_closed_port(Ipv4Address src, Ipv4Address dst) {
  namespace tcp = stack::wire::tcp;
  tcp::Repr syn;
  syn.src_port = 40000;
  syn.dst_port = 80;
  syn.seq = tcp::SeqNum{1000};
  syn.flags.syn = true;
  syn.window_raw = 1024;
  Bytes b(syn.buffer_len());
  auto v = tcp::ViewMut::unchecked(b);
  syn.emit(v, src, dst);
  return b;
}
}  // namespace

TEST_SUITE("iface/arp") {
  TEST_CASE("a request for our address is answered with our MAC, unicast (RFC 826)") {
    IfaceHarness h;
    h.configure();
    h.iface.receive(at_ms(5), arp_frame(arp::Operation::Request, kRouterMac, kRouterIp, MacAddress{}, kOurIp,
                                        MacAddress::broadcast()));
    auto out = h.take();
    REQUIRE(out.size() == 1);
    CAPTURE(stack::wire::describe_frame(out[0]));
    CHECK(eth_of(out[0]).destination() == kRouterMac);
    auto reply = arp::Repr::parse(*arp::View::checked(eth_of(out[0]).payload()));
    REQUIRE(reply);
    CHECK(reply->operation == arp::Operation::Reply);
    CHECK(reply->sender_mac == kOurMac);
    CHECK(reply->sender_ip == kOurIp);
    CHECK(reply->target_ip == kRouterIp);
    // RFC 826 merge: the requester was learned, so replying to it needs no ARP of our own.
    CHECK(h.iface.arp_cache().peek(kRouterIp, at_ms(6)) == kRouterMac);
  }

  TEST_CASE("a request for another address is neither answered nor learned") {
    IfaceHarness h;
    h.configure();
    h.iface.receive(at_ms(0), arp_frame(arp::Operation::Request, kRouterMac, kRouterIp, MacAddress{},
                                        Ipv4Address::from_octets(10, 77, 0, 99), MacAddress::broadcast()));
    CHECK(h.take().empty());
    CHECK_FALSE(h.iface.arp_cache().contains(kRouterIp));
  }

  TEST_CASE("configuring an address sends a gratuitous ARP announcement (RFC 5227 §2.3)") {
    IfaceHarness h;
    h.iface.set_address(at_ms(0), stack::wire::Ipv4Cidr{kOurIp, 24}, kRouterIp);
    auto out = h.take();
    REQUIRE(out.size() == 1);
    auto a = arp::Repr::parse(*arp::View::checked(eth_of(out[0]).payload()));
    REQUIRE(a);
    CHECK(eth_of(out[0]).destination() == MacAddress::broadcast());
    CHECK(a->sender_ip == kOurIp);
    CHECK(a->target_ip == kOurIp);
  }

  TEST_CASE("the first ping is queued behind ARP and sent once the router answers") {
    IfaceHarness h;
    h.configure();
    auto sock = h.iface.icmp().open(77);
    REQUIRE(sock);
    const Bytes data = pattern(56);
    REQUIRE(h.iface.icmp().send_echo(*sock, kInternetHost, 1, data));
    h.iface.poll(at_ms(0));
    auto out = h.take();
    REQUIRE(out.size() == 1);  // only the ARP request: the echo waits
    auto who_has = arp::Repr::parse(*arp::View::checked(eth_of(out[0]).payload()));
    REQUIRE(who_has);
    CHECK(who_has->target_ip == kRouterIp);  // the next hop for an off-link host is the gateway
    CHECK(eth_of(out[0]).destination() == MacAddress::broadcast());

    h.iface.receive(at_ms(2), arp_frame(arp::Operation::Reply, kRouterMac, kRouterIp, kOurMac, kOurIp, kOurMac));
    out = h.take();
    REQUIRE(out.size() == 1);
    CAPTURE(stack::wire::describe_frame(out[0]));
    CHECK(eth_of(out[0]).destination() == kRouterMac);
    CHECK(ip_of(out[0]).dst() == kInternetHost);
    CHECK(ip_of(out[0]).protocol() == IpProtocol::Icmp);
    CHECK(std::find(h.events.begin(), h.events.end(),
                    "ARP: 10.77.0.1 is-at 46:e0:e8:63:d0:9e (resolved in 2.000 ms, cached)") != h.events.end());

    // The second ping reuses the cache: no ARP.
    REQUIRE(h.iface.icmp().send_echo(*sock, kInternetHost, 2, data));
    h.iface.poll(at_ms(1000));
    out = h.take();
    REQUIRE(out.size() == 1);
    CHECK(ip_of(out[0]).protocol() == IpProtocol::Icmp);
  }

  TEST_CASE("a 30000-byte first ping waits whole behind ARP: all 21 fragments leave once the router answers") {
    IfaceHarness h;
    h.configure();
    auto sock = h.iface.icmp().open(77);
    REQUIRE(sock);
    REQUIRE(h.iface.icmp().send_echo(*sock, kInternetHost, 1, pattern(30000)));
    h.iface.poll(at_ms(0));
    auto out = h.take();
    REQUIRE(out.size() == 1);  // the ARP request only
    CHECK(h.dropped(DropReason::ArpQueueFull) == 0);
    h.iface.receive(at_ms(2), arp_frame(arp::Operation::Reply, kRouterMac, kRouterIp, kOurMac, kOurIp, kOurMac));
    out = h.take();
    // 30008 bytes of ICMP in 1480-byte fragments: 21 frames (iputils sends the same).
    REQUIRE(out.size() == 21);
    std::size_t payload = 0;
    for (const auto& f : out) {
      CHECK(ip_of(f).dst() == kInternetHost);
      payload += ip_of(f).total_len() - ip_of(f).header_len();
    }
    CHECK(payload == 30008);
  }

  TEST_CASE("ARP retries 1 s apart, gives up after 3 tries and drops the queued packets") {
    IfaceHarness h;
    h.configure();
    auto sock = h.iface.icmp().open(77);
    REQUIRE(h.iface.icmp().send_echo(*sock, kRouterIp, 1, pattern(8)));
    h.iface.poll(at_ms(0));
    CHECK(h.take().size() == 1);
    CHECK(h.iface.poll_at(at_ms(0)) == at_ms(1000));
    h.iface.poll(at_ms(999));
    CHECK(h.take().empty());
    h.iface.poll(at_ms(1000));
    CHECK(h.take().size() == 1);
    h.iface.poll(at_ms(2000));
    CHECK(h.take().size() == 1);
    h.iface.poll(at_ms(3000));
    CHECK(h.take().empty());
    CHECK(h.dropped(DropReason::ArpUnresolved) == 1);
    CHECK(std::find(h.events.begin(), h.events.end(),
                    "ARP: no answer from 10.77.0.1 after 3 tries; 1 queued packet(s) dropped") != h.events.end());
  }

  TEST_CASE("a gratuitous ARP from a neighbour updates its entry (RFC 826 merge)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    const MacAddress moved{{0x02, 0, 0, 0, 0, 0x42}};
    h.iface.receive(at_ms(10), arp_frame(arp::Operation::Request, moved, kRouterIp, MacAddress{}, kRouterIp,
                                         MacAddress::broadcast()));
    CHECK(h.take().empty());
    CHECK(h.iface.arp_cache().peek(kRouterIp, at_ms(11)) == moved);
  }

  TEST_CASE("ARP with a multicast sender MAC is dropped as hostile") {
    IfaceHarness h;
    h.configure();
    const MacAddress multicast{{0x01, 0, 0x5e, 0, 0, 1}};
    h.iface.receive(at_ms(0), arp_frame(arp::Operation::Request, multicast, kRouterIp, MacAddress{}, kOurIp,
                                        MacAddress::broadcast()));
    CHECK(h.take().empty());
    CHECK(h.dropped(DropReason::ArpBadSender) == 1);
  }

  TEST_CASE("someone else claiming our address is reported and defended at most every 10 s (RFC 5227 §2.4)") {
    IfaceHarness h;
    h.configure();
    const MacAddress intruder{{0x02, 0, 0, 0, 0, 0x66}};
    auto claim = arp_frame(arp::Operation::Request, intruder, kOurIp, MacAddress{}, kOurIp, MacAddress::broadcast());
    h.iface.receive(at_ms(0), claim);
    CHECK(h.take().size() == 1);  // one defending announcement
    h.iface.receive(at_ms(5000), claim);
    CHECK(h.take().empty());
    h.iface.receive(at_ms(10000), claim);
    CHECK(h.take().size() == 1);
  }
}

TEST_SUITE("iface/ipv4") {
  TEST_CASE("an echo request is answered with the same data, addresses swapped (RFC 792)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    const Bytes data = pattern(56);
    h.deliver_ip(at_ms(0), ip_from_router(IpProtocol::Icmp), echo_request(0x3d06, 1, data));
    auto out = h.take();
    REQUIRE(out.size() == 1);
    CAPTURE(stack::wire::describe_frame(out[0]));
    const auto ip = ip_of(out[0]);
    CHECK(ip.src() == kOurIp);
    CHECK(ip.dst() == kRouterIp);
    CHECK(ip.verify_checksum());
    auto icmp = icmpv4::View::checked(ip.payload());
    REQUIRE(icmp);
    CHECK(icmp->verify_checksum());
    auto repr = icmpv4::Repr::parse(*icmp);
    REQUIRE(repr);
    auto* reply = std::get_if<icmpv4::EchoReply>(&repr->message);
    REQUIRE(reply);
    CHECK(reply->ident == 0x3d06);
    CHECK(reply->seq_no == 1);
    CHECK(std::equal(reply->data.begin(), reply->data.end(), data.begin(), data.end()));
    CHECK(stack::wire::describe_frame(out[0]) == "IP 10.77.0.50 > 10.77.0.1: ICMP echo reply, id 15622, seq 1, length 64");
  }

  TEST_CASE("a bad IPv4 header checksum is dropped and counted (RFC 1122 §3.2.1.2)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    Bytes packet = ipv4_packet(ip_from_router(IpProtocol::Icmp), echo_request(1, 1, pattern(8)));
    packet[10] ^= std::byte{0xff};
    h.iface.receive(at_ms(0), eth_frame(kRouterMac, kOurMac, stack::wire::EtherType::Ipv4, packet));
    CHECK(h.take().empty());
    CHECK(h.dropped(DropReason::Ipv4BadChecksum) == 1);
  }

  TEST_CASE("malformed and foreign frames are dropped with their reasons, never answered") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    h.iface.receive(at_ms(0), Bytes(13));
    CHECK(h.dropped(DropReason::FrameTooShort) == 1);
    const MacAddress other{{0x02, 9, 9, 9, 9, 9}};
    h.iface.receive(at_ms(0), eth_frame(kRouterMac, other, stack::wire::EtherType::Ipv4, Bytes(40)));
    CHECK(h.dropped(DropReason::NotForUs) == 1);
    h.iface.receive(at_ms(0), eth_frame(kRouterMac, kOurMac, stack::wire::EtherType::Ipv6, Bytes(40)));
    CHECK(h.dropped(DropReason::UnknownEthertype) == 1);
    h.iface.receive(at_ms(0), eth_frame(kRouterMac, kOurMac, stack::wire::EtherType::Ipv4, Bytes(19)));
    CHECK(h.dropped(DropReason::Ipv4Malformed) == 1);
    h.iface.receive(at_ms(0), eth_frame(kRouterMac, kOurMac, stack::wire::EtherType::Arp, Bytes(27)));
    CHECK(h.dropped(DropReason::ArpMalformed) == 1);
    h.deliver_ip(at_ms(0), ip_from_router(IpProtocol::Icmp, Ipv4Address::from_octets(10, 77, 0, 51)),
                 echo_request(1, 1, pattern(8)));
    CHECK(h.dropped(DropReason::Ipv4NotForUs) == 1);
    ipv4::Repr spoofed = ip_from_router(IpProtocol::Icmp);
    spoofed.src = Ipv4Address::broadcast();
    h.deliver_ip(at_ms(0), spoofed, echo_request(1, 1, pattern(8)));
    CHECK(h.dropped(DropReason::Ipv4BadSource) == 1);
    CHECK(h.take().empty());
  }

  TEST_CASE("martian sources are silently discarded, never answered: 0/8, 127/8, multicast, broadcast, our own address (RFC 1122 §3.2.1.3)") {
    for (const Ipv4Address src : {Ipv4Address::from_octets(0, 0, 0, 0), Ipv4Address::from_octets(0, 1, 2, 3),
                                  Ipv4Address::from_octets(127, 0, 0, 1), Ipv4Address::from_octets(224, 0, 0, 1),
                                  Ipv4Address::broadcast(), Ipv4Address::from_octets(10, 77, 0, 255), kOurIp}) {
      CAPTURE(src.describe());
      IfaceHarness h;
      h.configure();
      h.learn_router();
      ipv4::Repr ip = ip_from_router(IpProtocol::Icmp);
      ip.src = src;
      h.deliver_ip(at_ms(0), ip, echo_request(1, 1, pattern(8)));
      ip.protocol = IpProtocol::Udp;
      h.deliver_ip(at_ms(0), ip, udp_datagram(src, kOurIp, 40000, 9, pattern(4)));  // closed port
      CHECK(h.take().empty());
      CHECK(h.dropped(DropReason::Ipv4BadSource) == 2);
    }
  }

  TEST_CASE("malformed IPv4 options discard the datagram silently; well-formed ones are ignored (RFC 1122 §3.2.1.8, RFC 791 §3.1)") {
    // An echo request with the given option bytes (padded to a multiple of 4 with End of List).
    auto with_options = [](Bytes opts) {
      while (opts.size() % 4 != 0) opts.push_back(std::byte{0});
      const Bytes icmp = echo_request(7, 1, pattern(8));
      ipv4::Repr ip = ip_from_router(IpProtocol::Icmp);
      ip.payload_len = icmp.size();
      Bytes p(ipv4::kMinHeaderLen + opts.size() + icmp.size());
      auto v = ipv4::ViewMut::unchecked(p);
      ip.emit(v);
      // Move the payload behind the options and fix IHL, total length and checksum.
      std::copy(opts.begin(), opts.end(), p.begin() + ipv4::kMinHeaderLen);
      std::copy(icmp.begin(), icmp.end(), p.begin() + static_cast<std::ptrdiff_t>(ipv4::kMinHeaderLen + opts.size()));
      v.set_header_len(ipv4::kMinHeaderLen + opts.size());
      v.set_total_len(static_cast<std::uint16_t>(p.size()));
      v.fill_checksum();
      return p;
    };
    auto b = [](std::initializer_list<int> l) {
      Bytes out;
      for (int x : l) out.push_back(static_cast<std::byte>(x));
      return out;
    };
    struct Case { const char* what; Bytes opts; bool answered; };
    const Case cases[] = {
        {"NOPs and End of List", b({1, 1, 1, 0}), true},
        {"unknown option, length 4", b({0x9e, 4, 0, 0}), true},
        {"record route, pointer 4, one slot", b({7, 7, 4, 0, 0, 0, 0, 1}), true},
        {"length 0", b({0x9e, 0, 0, 0}), false},
        {"length 1", b({0x9e, 1, 0, 0}), false},
        {"runs past the header", b({0x9e, 9, 0, 0}), false},
        {"kind without a length byte", b({1, 1, 1, 0x9e}), false},
        {"loose source route, pointer 3", b({131, 7, 3, 0, 0, 0, 0, 1}), false},
        {"strict source route, partial address", b({137, 6, 4, 0, 0, 0, 1, 1}), false},
        {"record route, pointer past the end", b({7, 7, 12, 0, 0, 0, 0, 1}), false},
    };
    for (const auto& c : cases) {
      CAPTURE(c.what);
      IfaceHarness h;
      h.configure();
      h.learn_router();
      h.iface.receive(at_ms(0), eth_frame(kRouterMac, kOurMac, stack::wire::EtherType::Ipv4, with_options(c.opts)));
      CHECK(h.take().size() == (c.answered ? 1u : 0u));
      CHECK(h.dropped(DropReason::Ipv4BadOptions) == (c.answered ? 0u : 1u));
    }
  }

  TEST_CASE("a unicast datagram in a link-layer broadcast frame is discarded: no echo reply, no ICMP error (RFC 1122 §3.3.6, §3.2.2)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    auto bcast = [&](IpProtocol proto, const Bytes& payload) {
      ipv4::Repr ip = ip_from_router(proto);
      h.iface.receive(at_ms(0), eth_frame(kRouterMac, MacAddress::broadcast(), stack::wire::EtherType::Ipv4,
                                          ipv4_packet(ip, payload)));
    };
    bcast(IpProtocol::Udp, udp_datagram(kRouterIp, kOurIp, 40000, 9, pattern(4)));  // closed port
    bcast(IpProtocol::Icmp, echo_request(1, 1, pattern(8)));
    CHECK(h.take().empty());
    CHECK(h.dropped(DropReason::Ipv4LinkBroadcast) == 2);
    // The same datagram in a unicast frame is answered.
    h.deliver_ip(at_ms(0), ip_from_router(IpProtocol::Udp), udp_datagram(kRouterIp, kOurIp, 40000, 9, pattern(4)));
    CHECK(h.take().size() == 1);
  }

  TEST_CASE("a datagram to a closed UDP port gets ICMP port unreachable quoting it (RFC 1122 §4.1.3.1)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    const Bytes payload = pattern(12);
    h.deliver_ip(at_ms(0), ip_from_router(IpProtocol::Udp), udp_datagram(kRouterIp, kOurIp, 40000, 9, payload));
    auto out = h.take();
    REQUIRE(out.size() == 1);
    CAPTURE(stack::wire::describe_frame(out[0]));
    auto icmp = icmpv4::Repr::parse(*icmpv4::View::checked(ip_of(out[0]).payload()));
    REQUIRE(icmp);
    auto* unreachable = std::get_if<icmpv4::DestUnreachable>(&icmp->message);
    REQUIRE(unreachable);
    CHECK(unreachable->code == icmpv4::UnreachableCode::Port);
    CHECK(unreachable->header.src == kRouterIp);
    CHECK(unreachable->header.protocol == IpProtocol::Udp);
    REQUIRE(unreachable->data.size() >= 8);
    CHECK(stack::load_be16(unreachable->data, 2) == 9);
    CHECK(h.dropped(DropReason::UdpNoSocket) == 1);
  }

  TEST_CASE("no ICMP error for a broadcast datagram to a closed port (RFC 1122 §3.2.2)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    h.deliver_ip(at_ms(0), ip_from_router(IpProtocol::Udp, Ipv4Address::broadcast()),
                 udp_datagram(kRouterIp, Ipv4Address::broadcast(), 67, 9, pattern(4)));
    CHECK(h.take().empty());
    CHECK(h.dropped(DropReason::UdpNoSocket) == 1);
  }

  TEST_CASE("IP-in-IP is never decapsulated: protocol unreachable, none for a broadcast (docs/hostile-inputs.md #18)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    const auto ip_in_ip = static_cast<IpProtocol>(4);
    // The payload is a whole inner datagram, an echo request to us: answering it would mean we
    // decapsulated it. The only frame out must be the error.
    const Bytes inner = ipv4_packet(ip_from_router(IpProtocol::Icmp), echo_request(1, 1, pattern(8)));
    h.deliver_ip(at_ms(0), ip_from_router(ip_in_ip), inner);
    auto out = h.take();
    REQUIRE(out.size() == 1);
    CAPTURE(stack::wire::describe_frame(out[0]));
    auto icmp = icmpv4::Repr::parse(*icmpv4::View::checked(ip_of(out[0]).payload()));
    REQUIRE(icmp);
    auto* unreachable = std::get_if<icmpv4::DestUnreachable>(&icmp->message);
    REQUIRE(unreachable);
    CHECK(unreachable->code == icmpv4::UnreachableCode::Protocol);
    CHECK(h.dropped(DropReason::Ipv4UnknownProtocol) == 1);
    // RFC 1122 §3.2.2: no ICMP error about a datagram sent to a broadcast address.
    h.deliver_ip(at_ms(1), ip_from_router(ip_in_ip, Ipv4Address::broadcast()), inner);
    CHECK(h.take().empty());
    CHECK(h.dropped(DropReason::Ipv4UnknownProtocol) == 2);
  }

  TEST_CASE("TCP from 0.0.0.0 or to a broadcast address gets no RST and no state (docs/hostile-inputs.md #16, #17)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    const auto segment = syn_to_closed_port;  // nobody listens: a legitimate SYN gets a RST
    ipv4::Repr from_nobody = ip_from_router(IpProtocol::Tcp);
    from_nobody.src = Ipv4Address::any();
    h.deliver_ip(at_ms(0), from_nobody, segment(Ipv4Address::any(), kOurIp));
    // 0.0.0.0 is a martian source: IPv4 discards it before TCP sees it (RFC 1122 §3.2.1.3).
    CHECK(h.dropped(DropReason::Ipv4BadSource) == 1);
    h.deliver_ip(at_ms(0), ip_from_router(IpProtocol::Tcp, Ipv4Address::broadcast()),
                 segment(kRouterIp, Ipv4Address::broadcast()));
    CHECK(h.dropped(DropReason::Ipv4NotForUs) == 1);
    h.iface.poll(at_ms(0));
    CHECK(h.take().empty());
    // The same SYN from a real host is answered with a RST: the silence above is the check's doing.
    h.deliver_ip(at_ms(1), ip_from_router(IpProtocol::Tcp), segment(kRouterIp, kOurIp));
    h.iface.poll(at_ms(1));
    CHECK(h.take().size() == 1);
  }

  TEST_CASE("a TCP checksum is verified unless the device vouched for it (virtio-net NEEDS_CSUM or DATA_VALID)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    Bytes seg = syn_to_closed_port(kRouterIp, kOurIp);  // nobody listens: a SYN TCP takes in is answered with a RST
    seg[16] ^= std::byte{0x5a};  // the checksum field: the bytes no longer sum to it
    const Bytes frame = eth_frame(kRouterMac, kOurMac, stack::wire::EtherType::Ipv4,
                                  ipv4_packet(ip_from_router(IpProtocol::Tcp), seg));
    h.iface.receive(at_ms(0), frame);
    h.iface.poll(at_ms(0));
    CHECK(h.take().empty());  // summed, found bad, dropped silently (RFC 9293 §3.1)
    // The same bytes with the kernel's vouch (a frame made on this machine, its field completed
    // by the driver; the driver is trusted, so the stack does not sum it again): TCP takes it.
    h.iface.receive(at_ms(1), frame, /*checksum_vouched=*/true);
    h.iface.poll(at_ms(1));
    CHECK(h.take().size() == 1);
  }

  TEST_CASE("a UDP datagram with a bad checksum is dropped (RFC 1122 §4.1.3.4)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    auto sock = h.iface.udp().bind(5000);
    REQUIRE(sock.ok());
    Bytes d = udp_datagram(kRouterIp, kOurIp, 53, 5000, pattern(10));
    d[9] ^= std::byte{1};
    h.deliver_ip(at_ms(0), ip_from_router(IpProtocol::Udp), d);
    CHECK(h.dropped(DropReason::UdpBadChecksum) == 1);
    CHECK_FALSE(h.iface.udp().readable(*sock));
    h.deliver_ip(at_ms(0), ip_from_router(IpProtocol::Udp), udp_datagram(kRouterIp, kOurIp, 53, 5000, pattern(10)));
    auto got = h.iface.udp().recv_from(*sock);
    REQUIRE(got);
    CHECK(got->from.addr == kRouterIp);
    CHECK(got->payload == pattern(10));
  }

  TEST_CASE("our UDP datagrams leave with a valid checksum through the gateway") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    auto sock = h.iface.udp().bind(0);
    REQUIRE(sock.ok());
    const Ipv4Address resolver = Ipv4Address::from_octets(198, 51, 100, 53);
    const Bytes query = pattern(30);
    REQUIRE(h.iface.udp().send_to(*sock, {resolver, 53}, query).ok());
    CHECK(h.iface.poll_at(at_ms(3)) == at_ms(3));
    h.iface.poll(at_ms(3));
    auto out = h.take();
    REQUIRE(out.size() == 1);
    CHECK(eth_of(out[0]).destination() == kRouterMac);
    const auto ip = ip_of(out[0]);
    CHECK(ip.dst() == resolver);
    auto udp = stack::wire::udp::View::checked(ip.payload());
    REQUIRE(udp);
    CHECK(udp->verify_checksum(kOurIp, resolver));
    CHECK(udp->dst_port() == 53);
  }

  TEST_CASE("a UDP broadcast from 0.0.0.0 goes out before we have an address (what DHCP needs)") {
    IfaceHarness h;  // not configured
    auto sock = h.iface.udp().bind(68);
    REQUIRE(sock.ok());
    REQUIRE(h.iface.udp().send_to(*sock, {Ipv4Address::broadcast(), 67}, pattern(300), Ipv4Address::any()).ok());
    h.iface.poll(at_ms(0));
    auto out = h.take();
    REQUIRE(out.size() == 1);
    CHECK(eth_of(out[0]).destination() == MacAddress::broadcast());
    CHECK(ip_of(out[0]).src() == Ipv4Address::any());
    CHECK(stack::wire::describe_frame(out[0]) == "IP 0.0.0.0.68 > 255.255.255.255.67: UDP, length 300");
  }
}

TEST_SUITE("iface/fragments") {
  // Builds the fragments of one echo request of `size` data bytes, `per` payload bytes each.
  std::vector<Bytes> fragments(std::size_t size, std::size_t per, std::uint16_t ident) {
    const Bytes message = echo_request(9, 1, pattern(size));
    std::vector<Bytes> out;
    for (std::size_t off = 0; off < message.size(); off += per) {
      const std::size_t len = std::min(per, message.size() - off);
      ipv4::Repr ip = ip_from_router(IpProtocol::Icmp);
      ip.ident = ident;
      ip.frag_offset = static_cast<std::uint16_t>(off);
      ip.more_frags = off + len < message.size();
      out.push_back(eth_frame(kRouterMac, kOurMac, stack::wire::EtherType::Ipv4,
                              ipv4_packet(ip, std::span(message).subspan(off, len))));
    }
    return out;
  }

  // Reassembles our (fragmented) reply to check it byte for byte.
  Bytes reassemble_reply(const std::vector<Bytes>& frames) {
    Bytes whole;
    for (const auto& f : frames) {
      const auto ip = ip_of(f);
      const std::size_t end = ip.frag_offset() + ip.payload().size();
      if (whole.size() < end) whole.resize(end);
      std::copy(ip.payload().begin(), ip.payload().end(), whole.begin() + ip.frag_offset());
    }
    return whole;
  }

  TEST_CASE("a 4000-byte ping in 3 fragments is reassembled in every arrival order, and the reply fragmented") {
    std::vector<std::size_t> order{0, 1, 2};
    do {
      CAPTURE(order[0]);
      CAPTURE(order[1]);
      CAPTURE(order[2]);
      IfaceHarness h;
      h.configure();
      h.learn_router();
      const auto frags = fragments(4000, 1480, 0x1234);
      REQUIRE(frags.size() == 3);
      for (std::size_t i : order) h.iface.receive(at_ms(1), frags[i]);
      auto out = h.take();
      REQUIRE(out.size() == 3);  // 4008 bytes of ICMP over a 1500 MTU
      for (const auto& f : out) CHECK(ip_of(f).total_len() <= 1500);
      CHECK(ip_of(out[0]).more_frags());
      CHECK_FALSE(ip_of(out[2]).more_frags());
      const Bytes reply = reassemble_reply(out);
      auto icmp = icmpv4::View::checked(reply);
      REQUIRE(icmp);
      CHECK(icmp->verify_checksum());
      CHECK(icmp->type() == icmpv4::Type::EchoReply);
      CHECK(reply.size() == 4008);
      CHECK(h.iface.stats().size() > 0);
    } while (std::next_permutation(order.begin(), order.end()));
  }

  TEST_CASE("an incomplete datagram times out after 30 s and is counted") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    const auto frags = fragments(4000, 1480, 0x2222);
    h.iface.receive(at_ms(0), frags[0]);
    h.iface.receive(at_ms(0), frags[2]);
    CHECK(h.iface.poll_at(at_ms(0)) <= at_ms(30000));
    h.iface.poll(at_ms(29999));
    CHECK(h.dropped(DropReason::FragmentTimeout) == 0);
    h.iface.poll(at_ms(30000));
    CHECK(h.dropped(DropReason::FragmentTimeout) == 1);
    h.iface.receive(at_ms(30001), frags[1]);  // too late: starts a new, incomplete datagram
    CHECK(h.take().empty());
  }

  TEST_CASE("overlapping fragments discard the whole datagram (RFC 5722 spirit)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    auto frags = fragments(4000, 1480, 0x3333);
    // A forged fragment overlapping the first one's tail.
    const Bytes message = echo_request(9, 1, pattern(4000));
    ipv4::Repr ip = ip_from_router(IpProtocol::Icmp);
    ip.ident = 0x3333;
    ip.frag_offset = 1472;
    ip.more_frags = true;
    const Bytes overlap = eth_frame(kRouterMac, kOurMac, stack::wire::EtherType::Ipv4,
                                    ipv4_packet(ip, std::span(message).subspan(1472, 16)));
    h.iface.receive(at_ms(0), frags[0]);
    h.iface.receive(at_ms(0), overlap);
    h.iface.receive(at_ms(0), frags[1]);
    h.iface.receive(at_ms(0), frags[2]);
    CHECK(h.take().empty());
    CHECK(h.dropped(DropReason::FragmentOverlap) >= 1);
  }

  TEST_CASE("an exact duplicate fragment is ignored (duplicating links are innocent)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    const auto frags = fragments(4000, 1480, 0x4444);
    h.iface.receive(at_ms(0), frags[0]);
    h.iface.receive(at_ms(0), frags[0]);
    h.iface.receive(at_ms(0), frags[1]);
    h.iface.receive(at_ms(0), frags[2]);
    CHECK(h.take().size() == 3);
    CHECK(h.dropped(DropReason::FragmentOverlap) == 0);
  }

  TEST_CASE("a datagram reassembling beyond 65535 bytes is discarded (ping of death)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    ipv4::Repr ip = ip_from_router(IpProtocol::Icmp);
    ip.ident = 0x5555;
    ip.frag_offset = 65528;
    h.deliver_ip(at_ms(0), ip, pattern(100));
    CHECK(h.dropped(DropReason::FragmentTooBig) == 1);
    CHECK(h.take().empty());
  }

  TEST_CASE("fragment geometry: odd or empty non-final fragments are malformed, conflicting ends discard the datagram (docs/hostile-inputs.md #21)") {
    IfaceHarness h;
    h.configure();
    h.learn_router();
    const Bytes message = echo_request(9, 1, pattern(4000));  // 4008 bytes
    auto frag = [&](std::uint16_t ident, std::size_t off, std::size_t len, bool more) {
      ipv4::Repr ip = ip_from_router(IpProtocol::Icmp);
      ip.ident = ident;
      ip.frag_offset = static_cast<std::uint16_t>(off);
      ip.more_frags = more;
      return eth_frame(kRouterMac, kOurMac, stack::wire::EtherType::Ipv4,
                       ipv4_packet(ip, std::span(message).subspan(off, len)));
    };
    // RFC 791: offsets count 8-octet units, so every fragment but the last carries a multiple of 8.
    h.iface.receive(at_ms(0), frag(0x6001, 0, 1001, true));
    h.iface.receive(at_ms(0), frag(0x6002, 0, 0, true));
    CHECK(h.dropped(DropReason::Ipv4Malformed) == 2);
    // Two last fragments that end in different places: nothing of the datagram is delivered.
    h.iface.receive(at_ms(0), frag(0x6003, 1480, 1480, false));  // "the datagram ends at 2960"
    h.iface.receive(at_ms(0), frag(0x6003, 2960, 1048, false));  // "it ends at 4008"
    CHECK(h.dropped(DropReason::FragmentOverlap) == 1);
    h.iface.receive(at_ms(0), frag(0x6003, 0, 1480, true));
    CHECK(h.dropped(DropReason::FragmentOverlap) == 2);
    CHECK(h.take().empty());
  }

  TEST_CASE("a malformed first fragment (MF set, length not a multiple of 8) takes no reassembly slot") {
    auto config = IfaceHarness::default_config();
    config.reassembly.max_datagrams = 2;
    IfaceHarness h(config);
    h.configure();
    h.learn_router();
    for (std::uint16_t id = 1; id <= 5; ++id) {
      ipv4::Repr ip = ip_from_router(IpProtocol::Icmp);
      ip.ident = id;
      ip.more_frags = true;
      h.deliver_ip(at_ms(0), ip, pattern(100));  // 100 is not a multiple of 8
    }
    CHECK(h.dropped(DropReason::Ipv4Malformed) == 5);
    CHECK(h.dropped(DropReason::FragmentMemoryFull) == 0);
    // Both slots are still free: a real fragmented ping goes through at once.
    for (const auto& f : fragments(4000, 1480, 77)) h.iface.receive(at_ms(1), f);
    CHECK(h.take().size() >= 1);
  }

  TEST_CASE("reassembly memory is bounded") {
    auto config = IfaceHarness::default_config();
    config.reassembly.max_bytes = 8000;
    IfaceHarness h(config);
    h.configure();
    h.learn_router();
    // Many datagrams, each only partly delivered: the bound stops them.
    for (std::uint16_t id = 1; id <= 10; ++id) h.iface.receive(at_ms(0), fragments(4000, 1480, id)[0]);
    CHECK(h.dropped(DropReason::FragmentMemoryFull) >= 4);
    CHECK(h.take().empty());
  }
}
