// The hostile internet of the DNS fuzz targets (fuzz_dns_trace, fuzz_dns_resolver): a model that
// answers every frame a whole Interface sends — ARP for the gateway, DNS queries over UDP to any
// address with replies the input shapes, and a small TCP peer for the retry after TC=1 (RFC 7766)
// that refuses, stays silent, or answers with a framed reply whose length prefix, split and FIN the
// input chooses. Both targets consume the input the same way, so their corpora read alike.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "stack/iface/interface.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/dns.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"

namespace fuzz::dnsnet {

using namespace stack;
namespace w = stack::wire;
namespace dns = stack::wire::dns;
using w::Ipv4Address;
using w::MacAddress;

inline void trap_unless(bool ok) {
  if (!ok) __builtin_trap();
}

inline const MacAddress kOurMac{{0x02, 0x75, 0x73, 0x00, 0x00, 0x01}};
inline const MacAddress kRouterMac{{0x46, 0xe0, 0xe8, 0x63, 0xd0, 0x9e}};
inline const Ipv4Address kOurIp = Ipv4Address::from_octets(10, 77, 0, 60);
inline const Ipv4Address kRouterIp = Ipv4Address::from_octets(10, 77, 0, 1);

inline dns::Name name_of(const char* text) { return *dns::Name::parse(text); }

inline std::vector<dns::Name> dictionary() {
  std::vector<dns::Name> d;
  for (const char* n : {".", "com.", "domain.com.", "www.domain.com.", "ns1.domain.com.", "ns1.nic.com.",
                        "a.root-servers.net.", "net.", "alias.domain.com.", "x.www.domain.com.", "other.org.",
                        "ns.other.org.", "org.", "domain.com.evil.", "WWW.Domain.COM.", "ns2.domain.com."}) {
    d.push_back(name_of(n));
  }
  d.push_back(*dns::Name::from_labels({"we.ird", "domain", "com"}));
  d.push_back(*dns::Name::from_labels({"sp ace\\", "com"}));
  d.push_back(*dns::Name::from_labels({std::string("\x00\xff;", 3), "domain", "com"}));
  return d;
}

struct Input : fuzz::Input {
  Ipv4Address addr() {
    static const Ipv4Address kAddrs[] = {
        Ipv4Address::from_octets(198, 51, 100, 1), Ipv4Address::from_octets(198, 51, 100, 2),
        Ipv4Address::from_octets(198, 51, 100, 3), Ipv4Address::from_octets(203, 0, 113, 80),
        kOurIp,                                     Ipv4Address::from_octets(127, 0, 0, 1),
        Ipv4Address::from_octets(0, 0, 0, 0),       Ipv4Address::from_octets(255, 255, 255, 255),
        Ipv4Address::from_octets(224, 0, 0, 1),     kRouterIp,
    };
    const std::uint8_t sel = u8();
    if (sel < 0xe0) return kAddrs[sel % std::size(kAddrs)];
    return Ipv4Address{u32()};
  }
};

// One record shaped by the input, with names from the dictionary (or the name asked).
inline dns::Record record(Input& in, const std::vector<dns::Name>& dict, const dns::Name& asked) {
  dns::Record r;
  const std::uint8_t sel = in.u8();
  r.name = (sel & 0x80) ? asked : dict[in.u8() % dict.size()];
  r.ttl = (sel & 0x40) ? in.u32() : 300;
  const auto target = [&] { return (in.u8() & 1) ? asked : dict[in.u8() % dict.size()]; };
  switch (sel % 8) {
    case 0:
    case 1: r.type = 1; r.data = dns::rdata::A{in.addr()}; break;
    case 2:
    case 3: r.type = 2; r.data = dns::rdata::Ns{target()}; break;
    case 4: r.type = 5; r.data = dns::rdata::Cname{target()}; break;
    case 5: r.type = 6; r.data = dns::rdata::Soa{target(), target(), in.u32(), 1, 2, 3, in.u32()}; break;
    case 6: {
      r.type = (in.u8() & 1) ? 28 : 16;  // AAAA, TXT
      Bytes b(r.type == 28 ? 16 : in.u8() % 32);
      for (auto& x : b) x = std::byte{in.u8()};
      r.data = dns::rdata::Opaque{std::move(b)};
      break;
    }
    default: {
      r.type = in.u16();  // anything, kept opaque (a known type with opaque data must not confuse us)
      if (r.type == 1 || r.type == 2 || r.type == 5 || r.type == 6 || r.type == 41) r.type = 99;
      Bytes b(in.u8() % 8);
      for (auto& x : b) x = std::byte{in.u8()};
      r.data = dns::rdata::Opaque{std::move(b)};
    }
  }
  if (in.u8() == 0xff) r.cls = 3;  // CHAOS, once in a while
  return r;
}

// A reply to `q` shaped by the input (TC set only when `allow_tc`).
inline dns::Message reply_to(Input& in, const dns::Message& q, const std::vector<dns::Name>& dict, bool allow_tc) {
  dns::Message r;
  r.header.id = q.header.id;
  r.header.qr = true;
  const std::uint8_t flags = in.u8();
  r.header.aa = flags & 1;
  r.header.tc = allow_tc && (flags & 0x02) && (flags & 0x04);
  static constexpr std::uint8_t kRcodes[] = {0, 0, 0, 3, 2, 5, 1, 4};
  r.header.rcode = kRcodes[(flags >> 3) & 7];
  r.questions = q.questions;
  const dns::Name asked = q.questions.empty() ? dns::Name{} : q.questions[0].name;
  const std::uint8_t counts = in.u8();
  for (int i = 0; i < (counts & 3); ++i) r.answers.push_back(record(in, dict, asked));
  for (int i = 0; i < ((counts >> 2) & 7); ++i) r.authority.push_back(record(in, dict, asked));
  for (int i = 0; i < ((counts >> 5) & 7); ++i) r.additional.push_back(record(in, dict, asked));
  return r;
}

inline Bytes eth(const MacAddress& src, const MacAddress& dst, w::EtherType type, std::span<const std::byte> payload) {
  Bytes f(w::ethernet::kHeaderLen + payload.size());
  auto v = w::ethernet::ViewMut::unchecked(f);
  w::ethernet::Repr{.src = src, .dst = dst, .ethertype = type}.emit(v);
  std::copy(payload.begin(), payload.end(), f.begin() + w::ethernet::kHeaderLen);
  return f;
}

inline Bytes ip_frame(Ipv4Address src, Ipv4Address dst, w::IpProtocol proto, std::span<const std::byte> l4) {
  w::ipv4::Repr ip{};
  ip.src = src;
  ip.dst = dst;
  ip.protocol = proto;
  ip.ttl = 60;
  ip.payload_len = l4.size();
  Bytes p(w::ipv4::kMinHeaderLen + l4.size());
  auto v = w::ipv4::ViewMut::unchecked(p);
  ip.emit(v);
  std::copy(l4.begin(), l4.end(), p.begin() + w::ipv4::kMinHeaderLen);
  return eth(kRouterMac, kOurMac, w::EtherType::Ipv4, p);
}

inline Bytes udp_frame(Ipv4Address src, std::uint16_t sport, std::uint16_t dport, std::span<const std::byte> payload) {
  Bytes d(w::udp::kHeaderLen + payload.size());
  auto v = w::udp::ViewMut::unchecked(d);
  w::udp::Repr{.src_port = sport, .dst_port = dport}.emit(v, src, kOurIp, payload);
  return ip_frame(src, kOurIp, w::IpProtocol::Udp, d);
}

inline Bytes tcp_frame(Ipv4Address src, const w::tcp::Repr& seg) {
  Bytes d(seg.buffer_len());
  auto v = w::tcp::ViewMut::unchecked(d);
  seg.emit(v, src, kOurIp);
  return ip_frame(src, kOurIp, w::IpProtocol::Tcp, d);
}

// The TCP side of one server, for the walk's retry after TC=1.
struct TcpPeer {
  enum class Mode { Refuse, Silent, Answer } mode = Mode::Refuse;
  Ipv4Address addr;
  std::uint16_t our_port = 0;  // the client's port
  w::tcp::SeqNum snd_nxt{};
  w::tcp::SeqNum rcv_nxt{};
  bool established = false;
  bool answered = false;
  Bytes query;  // the framed query so far
};

// Answers one frame the Interface sent; true when something was sent back.
class Internet {
 public:
  std::optional<TcpPeer> peer;

  bool handle(const Bytes& frame, iface::Interface& ifc, Input& in, Instant now) {
    const std::vector<dns::Name>& dict = dictionary_;
    bool acted = false;
      auto e = w::ethernet::View::checked(frame);
      trap_unless(e.has_value());
      if (e->ethertype() == w::EtherType::Arp) {
        auto a = w::arp::View::checked(e->payload());
        if (!a) return acted;
        const auto req = w::arp::Repr::parse(*a);
        if (!req || req->operation != w::arp::Operation::Request || req->target_ip != kRouterIp) return acted;
        Bytes body(w::arp::kPacketLen);
        auto v = w::arp::ViewMut::unchecked(body);
        w::arp::Repr{.operation = w::arp::Operation::Reply, .sender_mac = kRouterMac, .sender_ip = kRouterIp,
                     .target_mac = kOurMac, .target_ip = kOurIp}
            .emit(v);
        ifc.receive(now, eth(kRouterMac, kOurMac, w::EtherType::Arp, body));
        acted = true;
        return acted;
      }
      auto ip = w::ipv4::View::checked(e->payload());
      if (!ip) return acted;
      const auto ipr = w::ipv4::Repr::parse(*ip);
      if (ipr.protocol == w::IpProtocol::Udp) {
        auto u = w::udp::View::checked(ip->payload());
        if (!u || u->dst_port() != 53) return acted;
        auto q = dns::parse(u->payload());
        trap_unless(q.ok());  // we built it
        const std::uint8_t act = in.u8();
        if (act % 8 == 0) return acted;  // silence: the walk times out
        if (act % 8 == 1) {          // first a decoy: another source, port or ID, or garbage
          Bytes junk = reply_to(in, *q, dict, false).emit();
          const std::uint8_t how = in.u8() % 4;
          if (how == 0) ifc.receive(now, udp_frame(in.addr(), 53, u->src_port(), junk));
          if (how == 1) ifc.receive(now, udp_frame(ipr.dst, 5353, u->src_port(), junk));
          if (how == 2) {
            junk[0] ^= std::byte{0x5a};
            ifc.receive(now, udp_frame(ipr.dst, 53, u->src_port(), junk));
          }
          if (how == 3) {
            junk.resize(in.u8() % (junk.size() + 1));
            ifc.receive(now, udp_frame(ipr.dst, 53, u->src_port(), junk));
          }
        }
        const dns::Message r = reply_to(in, *q, dict, true);
        if (r.header.tc) {
          peer = TcpPeer{};
          peer->addr = ipr.dst;
          const std::uint8_t m = in.u8() % 3;
          peer->mode = m == 0 ? TcpPeer::Mode::Refuse : m == 1 ? TcpPeer::Mode::Silent : TcpPeer::Mode::Answer;
        }
        ifc.receive(now, udp_frame(ipr.dst, 53, u->src_port(), r.emit()));
        acted = true;
      } else if (ipr.protocol == w::IpProtocol::Tcp && peer && ipr.dst == peer->addr) {
        auto t = w::tcp::View::checked(ip->payload());
        if (!t) return acted;
        const auto seg = w::tcp::Repr::parse(*t);
        if (!seg || seg->dst_port != 53 || seg->flags.rst) return acted;
        w::tcp::Repr a{};
        a.src_port = 53;
        a.dst_port = seg->src_port;
        a.window_raw = 65535;
        if (seg->flags.syn) {
          if (peer->mode == TcpPeer::Mode::Silent) return acted;
          if (peer->mode == TcpPeer::Mode::Refuse) {
            a.seq = w::tcp::SeqNum{0};
            a.ack = seg->seq + 1;
            a.flags.rst = true;
            ifc.receive(now, tcp_frame(peer->addr, a));
            acted = true;
            return acted;
          }
          peer->our_port = seg->src_port;
          peer->snd_nxt = w::tcp::SeqNum{in.u32()};
          peer->rcv_nxt = seg->seq + 1;
          a.seq = peer->snd_nxt;
          a.ack = peer->rcv_nxt;
          a.flags.syn = true;
          a.mss = 1460;
          peer->snd_nxt += 1;
          ifc.receive(now, tcp_frame(peer->addr, a));
          acted = true;
          return acted;
        }
        if (seg->dst_port != 53 || seg->src_port != peer->our_port) return acted;
        if (!seg->payload.empty() && seg->seq == peer->rcv_nxt) {
          peer->query.insert(peer->query.end(), seg->payload.begin(), seg->payload.end());
          peer->rcv_nxt += static_cast<std::uint32_t>(seg->payload.size());
        }
        if (seg->flags.fin) peer->rcv_nxt += 1;
        a.seq = peer->snd_nxt;
        a.ack = peer->rcv_nxt;
        ifc.receive(now, tcp_frame(peer->addr, a));
        acted = true;
        if (!peer->answered && peer->query.size() >= 2) {
          const std::size_t len = (std::to_integer<std::size_t>(peer->query[0]) << 8) |
                                  std::to_integer<std::size_t>(peer->query[1]);
          if (peer->query.size() < 2 + len) return acted;
          auto q = dns::parse(std::span<const std::byte>(peer->query).subspan(2, len));
          trap_unless(q.ok());
          peer->answered = true;
          const Bytes msg = reply_to(in, *q, dict, false).emit();
          Bytes framed;
          const std::uint8_t how = in.u8();
          const std::size_t prefix = (how & 0x80) ? in.u16() : msg.size();  // a lying length, sometimes
          framed.push_back(static_cast<std::byte>(prefix >> 8));
          framed.push_back(static_cast<std::byte>(prefix & 0xff));
          framed.insert(framed.end(), msg.begin(), msg.end());
          const std::size_t split = (how & 0x40) ? std::min<std::size_t>(in.u8(), framed.size()) : framed.size();
          for (std::size_t at = 0; at < framed.size();) {
            const std::size_t n = at == 0 && split > 0 ? split : std::min<std::size_t>(1400, framed.size() - at);
            w::tcp::Repr d{};
            d.src_port = 53;
            d.dst_port = peer->our_port;
            d.seq = peer->snd_nxt;
            d.ack = peer->rcv_nxt;
            d.flags.psh = true;
            d.window_raw = 65535;
            d.payload = std::span<const std::byte>(framed).subspan(at, n);
            ifc.receive(now, tcp_frame(peer->addr, d));
            peer->snd_nxt += static_cast<std::uint32_t>(n);
            at += n;
          }
          if (how & 0x20) {  // and close
            w::tcp::Repr f{};
            f.src_port = 53;
            f.dst_port = peer->our_port;
            f.seq = peer->snd_nxt;
            f.ack = peer->rcv_nxt;
            f.flags.fin = true;
            f.window_raw = 65535;
            ifc.receive(now, tcp_frame(peer->addr, f));
            peer->snd_nxt += 1;
          }
        }
      }
    return acted;
  }

 private:
  std::vector<dns::Name> dictionary_ = dictionary();
};

}  // namespace fuzz::dnsnet
