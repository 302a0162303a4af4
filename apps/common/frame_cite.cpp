#include "apps/common/frame_cite.hpp"

#include <algorithm>
#include <type_traits>
#include <utility>

#include "stack/wire/arp.hpp"
#include "stack/wire/dhcpv4.hpp"
#include "stack/wire/dns.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"

namespace appkit {

namespace wire = stack::wire;
using Kind = FrameFacts::Kind;
using Segment = FrameFacts::Segment;
constexpr std::uint16_t kRequest = static_cast<std::uint16_t>(wire::arp::Operation::Request);
constexpr std::uint16_t kReply = static_cast<std::uint16_t>(wire::arp::Operation::Reply);

FrameFacts FrameFacts::of(bool outgoing, std::span<const std::byte> frame) {
  FrameFacts f;
  f.outgoing = outgoing;
  auto eth = wire::ethernet::View::checked(frame);
  if (!eth) return f;
  if (eth->ethertype() == wire::EtherType::Arp) {
    const auto view = wire::arp::View::checked(eth->payload());
    const auto arp = view ? wire::arp::Repr::parse(*view) : std::nullopt;
    if (!arp) return f;
    f.kind = Kind::Arp;
    f.arp_op = static_cast<std::uint16_t>(arp->operation);
    f.sender = arp->sender_ip;
    f.target = arp->target_ip;
    f.broadcast = eth->destination().is_broadcast();
    return f;
  }
  if (eth->ethertype() != wire::EtherType::Ipv4) return f;
  auto ip = wire::ipv4::View::checked(eth->payload());
  // A fragment's payload is not a whole datagram: nothing of ours here is ever fragmented.
  if (!ip || ip->more_frags() || ip->frag_offset() != 0) return f;
  if (ip->protocol() == wire::IpProtocol::Tcp) {
    auto tcp = wire::tcp::View::checked(ip->payload());
    const auto seg = tcp ? wire::tcp::Repr::parse(*tcp) : std::nullopt;
    if (!seg || (outgoing ? seg->dst_port : seg->src_port) != wire::dns::kPort) return f;
    f.kind = Kind::DnsTcp;
    f.peer = outgoing ? ip->dst() : ip->src();
    f.local_port = outgoing ? seg->src_port : seg->dst_port;
    if (seg->flags.syn) f.segment = seg->ack ? Segment::SynAck : Segment::Syn;
    else if (seg->flags.fin && seg->payload.empty()) f.segment = Segment::Fin;
    return f;
  }
  if (ip->protocol() != wire::IpProtocol::Udp) return f;
  auto udp = wire::udp::View::checked(ip->payload());
  if (!udp) return f;
  const auto sp = udp->src_port(), dp = udp->dst_port();
  const auto body = udp->payload();
  if ((sp == wire::dhcpv4::kClientPort && dp == wire::dhcpv4::kServerPort) ||
      (sp == wire::dhcpv4::kServerPort && dp == wire::dhcpv4::kClientPort)) {
    const auto m = wire::dhcpv4::Repr::parse(body);
    if (!m) return f;
    f.kind = Kind::Dhcp;
    f.id = m->xid;
    f.dhcp_type = static_cast<std::uint8_t>(m->message_type);
    f.peer = outgoing ? ip->dst() : ip->src();
    return f;
  }
  if ((outgoing ? dp : sp) == wire::dns::kPort && body.size() >= 12) {
    // The header's first four octets: the ID and QR (RFC 1035 §4.1.1); the rest is the reader's.
    f.kind = Kind::Dns;
    f.id = static_cast<std::uint16_t>((std::to_integer<unsigned>(body[0]) << 8) | std::to_integer<unsigned>(body[1]));
    f.response = (std::to_integer<unsigned>(body[2]) & 0x80u) != 0;
    f.peer = outgoing ? ip->dst() : ip->src();
  }
  return f;
}

bool FrameWant::matches(const FrameFacts& f) const {
  if (f.kind != kind || f.outgoing != outgoing) return false;
  if (id && *id != f.id) return false;
  if (dhcp_type && *dhcp_type != f.dhcp_type) return false;
  if (arp_op && *arp_op != f.arp_op) return false;
  if (sender && *sender != f.sender) return false;
  if (target && *target != f.target) return false;
  if (peer && *peer != f.peer) return false;
  if (broadcast && *broadcast != f.broadcast) return false;
  if (response && *response != f.response) return false;
  if (segment && *segment != f.segment) return false;
  return true;
}

FrameWant FrameWant::dhcp(bool outgoing, std::uint32_t xid, std::uint8_t type, std::optional<wire::Ipv4Address> server) {
  FrameWant w;
  w.kind = Kind::Dhcp;
  w.outgoing = outgoing;
  w.id = xid;
  w.dhcp_type = type;
  if (!outgoing) w.peer = server;
  return w;
}

FrameWant FrameWant::arp(bool outgoing, std::uint16_t op, std::optional<wire::Ipv4Address> sender,
                         std::optional<wire::Ipv4Address> target) {
  FrameWant w;
  w.kind = Kind::Arp;
  w.outgoing = outgoing;
  w.arp_op = op;
  w.sender = sender;
  w.target = target;
  return w;
}

FrameWant FrameWant::dns(bool outgoing, std::uint16_t id, wire::Ipv4Address server) {
  FrameWant w;
  w.kind = Kind::Dns;
  w.outgoing = outgoing;
  w.id = id;
  w.peer = server;
  w.response = !outgoing;
  return w;
}

FrameWant FrameWant::dns_tcp(bool outgoing, Segment segment, wire::Ipv4Address server, std::optional<std::uint16_t> id) {
  FrameWant w;
  w.kind = Kind::DnsTcp;
  w.outgoing = outgoing;
  w.segment = segment;
  w.peer = server;
  if (id) {
    w.id = *id;
    w.response = !outgoing;
  }
  return w;
}

std::vector<FrameWant> wants_of(const stack::socket::DhcpEvent& e) {
  namespace ev = stack::socket::dhcp_event;
  return std::visit(
      [](const auto& x) -> std::vector<FrameWant> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ev::Sent>) {
          return {FrameWant::dhcp(true, x.message.xid, static_cast<std::uint8_t>(x.message.message_type))};
        } else if constexpr (std::is_same_v<T, ev::Received>) {
          return {FrameWant::dhcp(false, x.message.xid, static_cast<std::uint8_t>(x.message.message_type), x.from)};
        } else if constexpr (std::is_same_v<T, ev::ProbeSent>) {
          // RFC 5227 §2.1.1: sender IP all zeros, the address asked about as the target.
          auto w = FrameWant::arp(true, kRequest, wire::Ipv4Address::any(), x.ip);
          w.broadcast = true;
          return {w};
        } else if constexpr (std::is_same_v<T, ev::Conflict>) {
          FrameWant w = FrameWant::arp(false, 0, x.ip, std::nullopt);
          w.arp_op.reset();
          return {w};
        } else {
          return {};
        }
      },
      e);
}

std::vector<FrameWant> wants_of(const stack::Event& e) {
  namespace ev = stack::event;
  return std::visit(
      [](const auto& x) -> std::vector<FrameWant> {
        using T = std::decay_t<decltype(x)>;
        auto from = [](wire::Ipv4Address sender, std::optional<std::uint16_t> op) {
          FrameWant w = FrameWant::arp(false, 0, sender, std::nullopt);
          w.arp_op = op;
          return std::vector<FrameWant>{w};
        };
        if constexpr (std::is_same_v<T, ev::ArpRequestSent>) {
          // Broadcast (a refresh of a known entry is unicast and has no event).
          auto w = FrameWant::arp(true, kRequest, std::nullopt, x.target);
          w.broadcast = true;
          return {w};
        } else if constexpr (std::is_same_v<T, ev::ArpReplyReceived>) {
          return from(x.ip, kReply);
        } else if constexpr (std::is_same_v<T, ev::ArpResolved> || std::is_same_v<T, ev::ArpConflict>) {
          return from(x.ip, std::nullopt);  // a reply, or a request that taught us the sender
        } else if constexpr (std::is_same_v<T, ev::ArpReplySent>) {
          return {FrameWant::arp(true, kReply, std::nullopt, x.to)};
        } else if constexpr (std::is_same_v<T, ev::GratuitousArpSent>) {
          return {FrameWant::arp(true, kRequest, x.ip, x.ip)};  // RFC 5227 §2.3: sender = target
        } else {
          return {};
        }
      },
      e);
}

std::string FrameCiter::cite_text(const std::vector<std::uint64_t>& numbers) {
  std::vector<std::uint64_t> known;
  for (const auto n : numbers) {
    if (n != 0) known.push_back(n);
  }
  if (known.empty()) return "";
  std::string text = known.size() == 1 ? "[frame " : "[frames ";
  for (std::size_t i = 0; i < known.size(); ++i) text += (i ? ", " : "") + std::to_string(known[i]);
  return text + "] ";
}

FrameCiter::Seen* FrameCiter::find(const FrameWant& w) {
  if (w.outgoing) {
    for (auto& s : seen_) {
      if (!s.cited && w.matches(s.facts)) return &s;
    }
    return nullptr;
  }
  Seen* last_cited = nullptr;
  for (auto& s : seen_) {
    if (!w.matches(s.facts)) continue;
    if (!s.cited) return &s;
    last_cited = &s;
  }
  return last_cited;
}

void FrameCiter::say(std::vector<FrameWant> wants, stack::Instant at, Emit emit) {
  if (!cite_ || wants.empty()) return emit(at, "");
  // A line still waiting for the very frame this one wants: that frame never left (an address
  // that did not resolve); this line is the try that did.
  for (auto it = held_.begin(); it != held_.end();) {
    bool superseded = false;
    for (std::size_t i = 0; i < it->wants.size(); ++i) {
      if (it->numbers[i] == 0 && std::find(wants.begin(), wants.end(), it->wants[i]) != wants.end()) superseded = true;
    }
    if (!superseded) {
      ++it;
      continue;
    }
    Held h = std::move(*it);
    it = held_.erase(it);
    release(h);
  }
  Held h{std::move(wants), {}, at, at, std::move(emit)};
  h.numbers.assign(h.wants.size(), 0);
  bool complete = true;
  for (std::size_t i = 0; i < h.wants.size(); ++i) {
    if (Seen* s = find(h.wants[i])) {
      s->cited = true;
      h.numbers[i] = s->number;
      h.at = std::max(h.at, s->at);
    } else if (h.wants[i].outgoing) {
      complete = false;  // it has not left yet: wait for it
    }
  }
  if (complete) return release(h);
  held_.push_back(std::move(h));
}

void FrameCiter::on_frame(bool outgoing, stack::Instant at, std::span<const std::byte> frame) {
  ++count_;
  if (!cite_) return;
  FrameFacts facts = FrameFacts::of(outgoing, frame);
  if (facts.kind == Kind::Other) return;
  if (facts.kind == Kind::DnsTcp) follow_dns_stream(facts, frame);
  seen_.push_back(Seen{count_, at, facts});
  if (seen_.size() > kRemembered) seen_.pop_front();
  Seen& s = seen_.back();
  for (auto it = held_.begin(); it != held_.end();) {
    Held& h = *it;
    bool waiting = false;
    for (std::size_t i = 0; i < h.wants.size(); ++i) {
      if (h.numbers[i] == 0 && !s.cited && h.wants[i].matches(s.facts)) {
        s.cited = true;
        h.numbers[i] = s.number;
        h.at = std::max(h.at, at);
      }
      if (h.numbers[i] == 0 && h.wants[i].outgoing) waiting = true;
    }
    if (waiting && at - h.since < kHoldLimit) {
      ++it;
      continue;
    }
    Held done = std::move(h);
    it = held_.erase(it);
    release(done);
  }
}

void FrameCiter::follow_dns_stream(FrameFacts& facts, std::span<const std::byte> frame) {
  // FrameFacts::of found a TCP segment to or from port 53 in it: parse it again for the bytes.
  auto eth = wire::ethernet::View::checked(frame);
  auto ip = eth ? wire::ipv4::View::checked(eth->payload()) : std::nullopt;
  auto tcp = ip ? wire::tcp::View::checked(ip->payload()) : std::nullopt;
  const auto seg = tcp ? wire::tcp::Repr::parse(*tcp) : std::nullopt;
  if (!seg) return;
  DnsStream& s = dns_streams_[{facts.outgoing, facts.peer.value, facts.local_port}];
  if (seg->flags.syn) {
    s = DnsStream{};
    s.next_seq = seg->seq.raw + 1;
    s.known = true;
    return;
  }
  if (!s.known || seg->payload.empty()) return;
  const auto ahead = static_cast<std::int32_t>(seg->seq.raw - s.next_seq);
  if (ahead < 0) return;  // a retransmission of octets already followed
  if (ahead > 0) {        // octets the capture does not have: where messages end is lost
    s.known = false;
    return;
  }
  s.next_seq += static_cast<std::uint32_t>(seg->payload.size());
  // RFC 1035 §4.2.2: each message is prefixed with its length in two octets; the ID and QR are the
  // header's first three octets (§4.1.1).
  constexpr std::size_t kHead = 5;
  for (std::size_t i = 0; i < seg->payload.size();) {
    if (s.head.size() < kHead) {
      s.head.push_back(seg->payload[i++]);
      if (s.head.size() < kHead) continue;
      const auto octet = [&](std::size_t k) { return std::to_integer<unsigned>(s.head[k]); };
      const unsigned length = (octet(0) << 8) | octet(1);
      if (length < kHead - 2) {  // not a DNS message: follow this stream no further
        s.known = false;
        return;
      }
      s.left = static_cast<std::uint32_t>(length - (kHead - 2));
    } else {
      const auto take = std::min<std::size_t>(s.left, seg->payload.size() - i);
      i += take;
      s.left -= static_cast<std::uint32_t>(take);
    }
    if (s.head.size() == kHead && s.left == 0) {
      const auto octet = [&](std::size_t k) { return std::to_integer<unsigned>(s.head[k]); };
      facts.segment = Segment::Message;
      facts.id = static_cast<std::uint16_t>((octet(2) << 8) | octet(3));
      facts.response = (octet(4) & 0x80u) != 0;
      s.head.clear();
    }
  }
}

void FrameCiter::release(Held& h) {
  if (h.emit) h.emit(h.at, cite_text(h.numbers));
}

void FrameCiter::flush() {
  while (!held_.empty()) {
    Held h = std::move(held_.front());
    held_.pop_front();
    release(h);
  }
}

}  // namespace appkit
