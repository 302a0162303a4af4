#include "stack/iface/interface.hpp"

#include <algorithm>

namespace stack::iface {

using wire::Ipv4Address;
using wire::MacAddress;
namespace arp = wire::arp;
namespace ethernet = wire::ethernet;
namespace icmpv4 = wire::icmpv4;
namespace ipv4 = wire::ipv4;
namespace udp = wire::udp;

Interface::Interface(InterfaceConfig config, Transmit transmit)
    : config_([&] {
        config.mtu = std::clamp(config.mtu, kMinMtu, kMaxMtu);
        return config;
      }()),
      transmit_(std::move(transmit)),
      rng_(config.seed),
      next_ident_(static_cast<std::uint16_t>(rng_.next_u32())),
      arp_(config.arp),
      reassembler_(config.reassembly),
      udp_([&] {
        auto c = config.udp;
        c.seed = config.seed ^ 0x5eedull;
        return c;
      }()) {
  // RFC 6528 §3 / RFC 6056: the TCP secret comes from the stack's random seed (the app draws
  // that from the OS); two draws, so the key is not the seed itself.
  socket::TcpLayer::Config tcp_config;
  static_cast<socket::TcpConfig&>(tcp_config) = config_.tcp;
  tcp_config.mtu = static_cast<std::uint16_t>(config_.mtu);
  tcp_config.secret_key[0] = rng_.next_u64();
  tcp_config.secret_key[1] = rng_.next_u64();
  tcp_ = std::make_unique<socket::TcpLayer>(tcp_config);
}

// =============================================================================================
// Addressing and routes
// =============================================================================================

void Interface::set_address(Instant now, wire::Ipv4Cidr address, std::optional<Ipv4Address> gateway, bool announce) {
  address_ = address;
  gateway_ = gateway;
  emit(now, event::AddressConfigured{address, gateway});
  // RFC 5227 §2.3: announce the address we now use, so neighbours with a stale mapping update it.
  if (announce) send_arp_announcement(now, address.address);
}

void Interface::clear_address(Instant now) {
  if (address_) emit(now, event::AddressRemoved{*address_});
  address_.reset();
  gateway_.reset();
  arp_.flush();
}

std::optional<Ipv4Address> Interface::next_hop(Ipv4Address dst) const {
  // The routing table of a host (RFC 1122 §3.3.1.1): on-link subnet first, then the default route.
  if (address_ && address_->contains(dst)) return dst;
  if (gateway_) return *gateway_;
  return std::nullopt;
}

// =============================================================================================
// Ingress
// =============================================================================================

void Interface::drop(Instant now, DropReason reason, std::string detail) {
  drops_.bump(reason);
  emit(now, event::Dropped{reason, std::move(detail)});
}

void Interface::receive(Instant now, std::span<const std::byte> frame, bool checksum_vouched) {
  ++frames_in_;
  auto eth = ethernet::View::checked(frame);
  if (!eth) return drop(now, DropReason::FrameTooShort);
  const MacAddress dst = eth->destination();
  // Accept frames for our MAC and broadcast. Multicast (IPv6 ND, LLDP, IGMP) is not ours.
  if (dst != config_.mac && !dst.is_broadcast()) return drop(now, DropReason::NotForUs);
  switch (eth->ethertype()) {
    case wire::EtherType::Arp: return process_arp(now, eth->payload());
    case wire::EtherType::Ipv4: return process_ipv4(now, eth->payload(), dst.is_broadcast(), checksum_vouched);
    default: return drop(now, DropReason::UnknownEthertype, wire::describe(eth->ethertype()));
  }
}

// --- ARP (RFC 826 "Packet Reception") ---------------------------------------------------------

void Interface::process_arp(Instant now, std::span<const std::byte> payload) {
  auto view = arp::View::checked(payload);
  if (!view) return drop(now, DropReason::ArpMalformed);
  auto repr = arp::Repr::parse(*view);
  if (!repr) return drop(now, DropReason::ArpUnsupported);
  // A sender hardware address that is broadcast or multicast would poison the table
  // (docs/hostile-inputs.md §A); so would a sender protocol address that cannot be a host.
  if (repr->sender_mac.is_multicast() || repr->sender_ip.is_broadcast() || repr->sender_ip.is_multicast()) {
    return drop(now, DropReason::ArpBadSender, repr->describe());
  }
  if (repr->sender_mac == config_.mac) return;  // our own frame reflected back (e.g. a bridge)
  if (arp_observer) arp_observer(now, *repr);

  // RFC 5227 §2.4: someone else claims our address. Report it, and defend at most once per
  // DEFEND_INTERVAL (10 s) with an announcement, so the other host learns of the conflict.
  if (address_ && repr->sender_ip == address_->address) {
    emit(now, event::ArpConflict{repr->sender_ip, repr->sender_mac});
    if (!last_conflict_defence_ || now - *last_conflict_defence_ >= Duration::from_secs(10)) {
      last_conflict_defence_ = now;
      send_arp_announcement(now, address_->address);
    }
    return;
  }
  if (repr->sender_ip.is_unspecified()) return;  // a probe (RFC 5227 §2.1.1): nothing to learn

  // RFC 826: "If the pair <protocol type, sender protocol address> is already in my translation
  // table, update the sender hardware address field of the entry with the new information".
  // This is also how a gratuitous ARP from a neighbour updates us.
  bool merged = false;
  if (auto learned = arp_.update_if_present(repr->sender_ip, repr->sender_mac, now)) {
    merged = true;
    if (repr->operation == arp::Operation::Reply) {
      emit(now, event::ArpReplyReceived{repr->sender_ip, repr->sender_mac});
    }
    arp_learned(now, repr->sender_ip, repr->sender_mac, std::move(*learned));
  }
  // "?Am I the target protocol address?" — only then may a new entry be added, and a request answered.
  if (!address_ || repr->target_ip != address_->address) return;
  if (!merged) arp_learned(now, repr->sender_ip, repr->sender_mac, arp_.learn(repr->sender_ip, repr->sender_mac, now));
  if (repr->operation == arp::Operation::Request) {
    send_arp(arp::Repr{.operation = arp::Operation::Reply,
                       .sender_mac = config_.mac,
                       .sender_ip = address_->address,
                       .target_mac = repr->sender_mac,
                       .target_ip = repr->sender_ip},
             repr->sender_mac);
    emit(now, event::ArpReplySent{repr->sender_ip, repr->sender_mac});
  }
}

void Interface::arp_learned(Instant now, Ipv4Address ip, const MacAddress& mac, ArpCache::Learned learned) {
  if (learned.resolution_time) emit(now, event::ArpResolved{ip, mac, *learned.resolution_time});
  for (Bytes& frame : learned.released) send_frame(mac, wire::EtherType::Ipv4, frame);
}

// --- IPv4 (RFC 791 §3.2; RFC 1122 §3.2.1) --------------------------------------------------------

void Interface::process_ipv4(Instant now, std::span<const std::byte> packet, bool link_broadcast, bool checksum_vouched) {
  // checked() validates version, IHL and total length against the buffer; Ethernet padding
  // beyond total_len is excluded from the payload.
  auto view = ipv4::View::checked(packet);
  if (!view) return drop(now, DropReason::Ipv4Malformed);
  // RFC 1122 §3.2.1.2: a host MUST verify the header checksum and silently discard on failure.
  if (!view->verify_checksum()) return drop(now, DropReason::Ipv4BadChecksum);
  // RFC 1122 §3.2.1.8 / RFC 791 §3.1: options are walked before anything trusts the datagram;
  // a malformed one (length 0 or 1, past the header, a bad route pointer) discards it silently.
  if (!ipv4::options_well_formed(view->options())) return drop(now, DropReason::Ipv4BadOptions);
  const ipv4::Repr ip = ipv4::Repr::parse(*view);
  // RFC 1122 §3.2.1.3: a host MUST silently discard a datagram whose source is not a host's
  // address — "this network" 0/8 ({0, <Host-number>} is never a source on the wire, and 0.0.0.0
  // only from a DHCP client, which we never serve), loopback 127/8 ("MUST NOT appear outside a
  // host"), multicast, limited or subnet-directed broadcast — and one with our own address as
  // source (a loop or a spoof: answering it would talk to ourselves).
  if ((ip.src.value >> 24) == 0 || ip.src.is_broadcast() || ip.src.is_multicast() || ip.src.is_loopback() ||
      (address_ && address_->prefix_len < 31 && ip.src == address_->broadcast()) ||
      (address_ && ip.src == address_->address)) {
    return drop(now, DropReason::Ipv4BadSource, ip.src.describe());
  }
  const bool to_broadcast = is_broadcast_for_us(ip.dst);
  // Before we have an address (DHCP in progress) we accept UDP to any address: a server may
  // unicast its OFFER to the address it offers (RFC 2131 §4.1), even with our BROADCAST flag set.
  const bool unconfigured_udp = !address_ && ip.protocol == wire::IpProtocol::Udp;
  if (!is_our_address(ip.dst) && !to_broadcast && !unconfigured_udp) {
    return drop(now, DropReason::Ipv4NotForUs, ip.dst.describe());
  }
  // RFC 1122 §3.3.6: "A host SHOULD silently discard a datagram that is received via a link-layer
  // broadcast but does not specify an IP multicast or broadcast destination address." Above all
  // it is never answered (no echo reply, no ICMP error: §3.2.2 MUST NOT). Exception: the DHCP
  // exchange before we have an address, where the frame and the address can disagree.
  if (link_broadcast && !to_broadcast && !ip.dst.is_multicast() && !unconfigured_udp) {
    return drop(now, DropReason::Ipv4LinkBroadcast, ip.dst.describe());
  }

  if (ip.more_frags || ip.frag_offset != 0) {
    auto outcome = reassembler_.add(ip, view->payload(), now);
    if (outcome.dropped) return drop(now, *outcome.dropped, ip.src.describe() + " id " + std::to_string(ip.ident));
    if (!outcome.complete) return;
    auto& [whole, data] = *outcome.complete;
    emit(now, event::FragmentReassembled{whole.src, whole.ident, data.size(), outcome.fragments});
    // ICMP errors about a reassembled datagram quote its first fragment's header: we rebuild one.
    Bytes raw(ipv4::kMinHeaderLen + std::min<std::size_t>(data.size(), 8));
    auto hv = ipv4::ViewMut::unchecked(raw);
    ipv4::Repr quoted = whole;
    quoted.payload_len = data.size();
    quoted.emit(hv);
    std::copy_n(data.begin(), raw.size() - ipv4::kMinHeaderLen, raw.begin() + ipv4::kMinHeaderLen);
    return deliver_ipv4(now, whole, data, raw, to_broadcast);  // a vouch was for one fragment, not the whole
  }
  deliver_ipv4(now, ip, view->payload(), packet.first(view->total_len()), to_broadcast, checksum_vouched);
}

void Interface::deliver_ipv4(Instant now, const ipv4::Repr& ip, std::span<const std::byte> payload,
                             std::span<const std::byte> raw_packet, bool to_broadcast, bool checksum_vouched) {
  switch (ip.protocol) {
    case wire::IpProtocol::Icmp: return process_icmp(now, ip, payload, to_broadcast);
    case wire::IpProtocol::Udp: return process_udp(now, ip, payload, raw_packet, to_broadcast, checksum_vouched);
    case wire::IpProtocol::Tcp:
      // RFC 1122 §4.2.3.10: TCP MUST silently discard segments addressed to a broadcast address.
      if (to_broadcast || !is_our_address(ip.dst)) return drop(now, DropReason::Ipv4NotForUs, "TCP to " + ip.dst.describe());
      return tcp_->process(now, ip.src, ip.dst, payload, checksum_vouched);
    default:
      drop(now, DropReason::Ipv4UnknownProtocol, wire::describe(ip.protocol));
      // RFC 1122 §3.2.2.1: a host SHOULD generate Protocol Unreachable (never for broadcasts).
      if (!to_broadcast) send_icmp_error(now, ip, raw_packet, icmpv4::UnreachableCode::Protocol);
      return;
  }
}

// --- ICMP (RFC 792; RFC 1122 §3.2.2) -------------------------------------------------------------

namespace {
std::string unreachable_text(icmpv4::UnreachableCode code) {
  // The words of iputils ping, so narration and ping output read the same.
  switch (code) {
    case icmpv4::UnreachableCode::Net: return "Destination Net Unreachable";
    case icmpv4::UnreachableCode::Host: return "Destination Host Unreachable";
    case icmpv4::UnreachableCode::Protocol: return "Destination Protocol Unreachable";
    case icmpv4::UnreachableCode::Port: return "Destination Port Unreachable";
    case icmpv4::UnreachableCode::FragNeeded: return "Frag needed";
    default: return "Destination Unreachable, code " + std::to_string(static_cast<int>(code));
  }
}

// How TCP should take a destination-unreachable code (RFC 1122 §4.2.3.9: soft vs hard errors
// are the socket's business; here we only name them).
std::optional<socket::TcpLayer::IcmpKind> tcp_icmp_kind(icmpv4::UnreachableCode code) {
  using Kind = socket::TcpLayer::IcmpKind;
  switch (code) {
    case icmpv4::UnreachableCode::Net: return Kind::NetUnreachable;
    case icmpv4::UnreachableCode::Host: return Kind::HostUnreachable;
    case icmpv4::UnreachableCode::Protocol: return Kind::ProtocolUnreachable;
    case icmpv4::UnreachableCode::Port: return Kind::PortUnreachable;
    case icmpv4::UnreachableCode::FragNeeded: return Kind::FragmentationNeeded;
    default: return Kind::AdminProhibited;
  }
}

// The ports (UDP) or identifier/sequence (ICMP echo) quoted in an ICMP error.
std::pair<std::uint16_t, std::uint16_t> quoted_pair(std::span<const std::byte> data) {
  if (data.size() < 4) return {0, 0};
  return {load_be16(data, 0), load_be16(data, 2)};
}
}  // namespace

void Interface::process_icmp(Instant now, const ipv4::Repr& ip, std::span<const std::byte> payload, bool to_broadcast) {
  auto view = icmpv4::View::checked(payload);
  if (!view) return drop(now, DropReason::IcmpMalformed);
  if (!view->verify_checksum()) return drop(now, DropReason::IcmpBadChecksum);
  auto repr = icmpv4::Repr::parse(*view);
  if (!repr) return drop(now, DropReason::IcmpUnhandledType, "type " + std::to_string(static_cast<int>(view->type())));

  if (auto* req = std::get_if<icmpv4::EchoRequest>(&repr->message)) {
    // RFC 1122 §3.2.2.6: every host MUST implement an echo server. An echo request to a
    // broadcast address MAY be silently discarded; we do (smurf amplification).
    if (to_broadcast) return;
    ++echo_requests_answered_;
    emit(now, event::EchoRequestAnswered{ip.src, req->ident, req->seq_no, payload.size()});
    // "the source and destination addresses are simply reversed … the data received in the
    // echo message must be returned in the echo reply message" (RFC 792).
    send_icmp(now, ip.src, icmpv4::Repr{icmpv4::EchoReply{req->ident, req->seq_no, req->data}}, ip.dst);
    return;
  }
  if (auto* rep = std::get_if<icmpv4::EchoReply>(&repr->message)) {
    if (!icmp_.process_reply(ip.src, ip.ttl, rep->ident, rep->seq_no, payload.size(), rep->data)) {
      drop(now, DropReason::IcmpNoSocket);
    }
    return;
  }
  // Errors: tell the socket the quoted datagram came from (RFC 1122 §3.2.2.1, §4.1.3.3).
  auto report = [&](const ipv4::Repr& quoted, std::span<const std::byte> data, const std::string& what,
                    std::optional<socket::TcpLayer::IcmpKind> tcp_kind, std::uint16_t next_hop_mtu) {
    emit(now, event::IcmpErrorReceived{ip.src, what + " (about " + quoted.dst.describe() + ")"});
    if (!address_ || quoted.src != address_->address) return;  // not about a datagram of ours
    const auto [first, second] = quoted_pair(data);
    switch (quoted.protocol) {
      case wire::IpProtocol::Udp:
        udp_.process_icmp_error(first, socket::UdpEndpoint{quoted.dst, second},
                                what + " from " + ip.src.describe());
        break;
      case wire::IpProtocol::Icmp:
        // The quoted ICMP header: type, code, checksum, then identifier and sequence.
        if (data.size() >= 8) icmp_.process_error(ip.src, load_be16(data, 4), load_be16(data, 6), what);
        break;
      case wire::IpProtocol::Tcp:
        // The quoted TCP header: ports, then the sequence number the layer checks (RFC 5927 §4.1).
        if (data.size() >= 8 && tcp_kind) {
          tcp_->process_icmp_error(now, quoted.src, quoted.dst, first, second, socket::SeqNum{load_be32(data, 4)},
                                   *tcp_kind, next_hop_mtu);
        }
        break;
      default:
        break;
    }
  };
  if (auto* unreach = std::get_if<icmpv4::DestUnreachable>(&repr->message)) {
    return report(unreach->header, unreach->data, unreachable_text(unreach->code), tcp_icmp_kind(unreach->code),
                  unreach->next_hop_mtu);
  }
  if (auto* exceeded = std::get_if<icmpv4::TimeExceeded>(&repr->message)) {
    return report(exceeded->header, exceeded->data,
                  exceeded->code == 0 ? "Time to live exceeded" : "Fragment reassembly time exceeded",
                  socket::TcpLayer::IcmpKind::TimeExceeded, 0);
  }
}

// --- UDP (RFC 768; RFC 1122 §4.1) ---------------------------------------------------------------

void Interface::process_udp(Instant now, const ipv4::Repr& ip, std::span<const std::byte> payload,
                            std::span<const std::byte> raw_packet, bool to_broadcast, bool checksum_vouched) {
  auto view = udp::View::checked(payload);
  if (!view) return drop(now, DropReason::UdpMalformed);
  // RFC 1122 §4.1.3.4: if a datagram arrives with a non-zero checksum that is invalid, UDP MUST
  // silently discard it. A zero checksum means the sender computed none (RFC 768). A checksum
  // the kernel vouched for (see receive()) is not summed a second time.
  if (!checksum_vouched && !view->verify_checksum(ip.src, ip.dst)) return drop(now, DropReason::UdpBadChecksum);
  switch (udp_.process(ip.src, ip.dst, view->src_port(), view->dst_port(), view->payload())) {
    case socket::UdpLayer::Delivery::Delivered: return;
    case socket::UdpLayer::Delivery::QueueFull: return drop(now, DropReason::UdpQueueFull);
    case socket::UdpLayer::Delivery::NoSocket:
      drop(now, DropReason::UdpNoSocket, "port " + std::to_string(view->dst_port()));
      // RFC 1122 §4.1.3.1: SHOULD send Port Unreachable — never for broadcasts (§3.2.2).
      if (!to_broadcast && !ip.dst.is_multicast()) send_icmp_error(now, ip, raw_packet, icmpv4::UnreachableCode::Port);
      return;
  }
}

// =============================================================================================
// Egress
// =============================================================================================

void Interface::send_frame(const MacAddress& dst, wire::EtherType type, Bytes& frame) {
  auto eth = ethernet::ViewMut::unchecked(frame);
  ethernet::Repr{.src = config_.mac, .dst = dst, .ethertype = type}.emit(eth);
  ++frames_out_;
  transmit_(frame);
}

void Interface::send_arp(const arp::Repr& repr, const MacAddress& eth_dst) {
  Bytes frame(kEthHeadroom + arp::Repr::buffer_len());
  auto view = arp::ViewMut::unchecked(std::span(frame).subspan(kEthHeadroom));
  repr.emit(view);
  send_frame(eth_dst, wire::EtherType::Arp, frame);
}

void Interface::send_arp_probe(Instant now, Ipv4Address target) {
  // RFC 5227 §2.1.1: sender IP all zeros, target hardware address zero, broadcast.
  (void)now;
  send_arp(arp::Repr{.operation = arp::Operation::Request,
                     .sender_mac = config_.mac,
                     .sender_ip = Ipv4Address::any(),
                     .target_mac = MacAddress{},
                     .target_ip = target},
           MacAddress::broadcast());
}

void Interface::send_arp_announcement(Instant now, Ipv4Address ip) {
  // RFC 5227 §2.3: an ARP request with sender and target IP both set to the announced address.
  send_arp(arp::Repr{.operation = arp::Operation::Request,
                     .sender_mac = config_.mac,
                     .sender_ip = ip,
                     .target_mac = MacAddress{},
                     .target_ip = ip},
           MacAddress::broadcast());
  emit(now, event::GratuitousArpSent{ip});
}

void Interface::route(Instant now, Ipv4Address dst, Bytes frame) {
  if (is_broadcast_for_us(dst)) return send_frame(MacAddress::broadcast(), wire::EtherType::Ipv4, frame);
  const auto hop = next_hop(dst);
  if (!hop) return drop(now, DropReason::NoRoute, dst.describe());
  if (auto hit = arp_.lookup(*hop, now)) {
    if (hit->needs_refresh && address_) {
      // Refresh a mapping about to expire with a unicast request (RFC 1122 §2.3.2.1 allows
      // unicast polling), so a busy flow never stalls on a fresh broadcast resolution.
      send_arp(arp::Repr{.operation = arp::Operation::Request,
                         .sender_mac = config_.mac,
                         .sender_ip = address_->address,
                         .target_mac = hit->mac,
                         .target_ip = *hop},
               hit->mac);
    }
    return send_frame(hit->mac, wire::EtherType::Ipv4, frame);
  }
  std::size_t evicted = 0;
  const auto queued = arp_.enqueue(*hop, std::move(frame), now, &evicted);
  for (std::size_t i = 0; i < evicted; ++i) drop(now, DropReason::ArpQueueFull, hop->describe() + " (oldest, to make room)");
  switch (queued) {
    case ArpCache::QueueResult::StartedResolution:
      if (!address_) return;  // cannot ask without a sender address; the entry times out
      send_arp(arp::Repr{.operation = arp::Operation::Request,
                         .sender_mac = config_.mac,
                         .sender_ip = address_->address,
                         .target_mac = MacAddress{},
                         .target_ip = *hop},
               MacAddress::broadcast());
      emit(now, event::ArpRequestSent{*hop, 1});
      return;
    case ArpCache::QueueResult::Queued: return;
    case ArpCache::QueueResult::QueueFull:
    case ArpCache::QueueResult::TableFull: return drop(now, DropReason::ArpQueueFull, hop->describe());
  }
}

void Interface::send_ipv4(Instant now, ipv4::Repr ip, const std::function<void(std::span<std::byte>)>& fill) {
  if (ip.src.is_unspecified() && address_ && !ip.dst.is_broadcast()) ip.src = address_->address;
  if (ip.payload_len > 65535 - ipv4::kMinHeaderLen) return drop(now, DropReason::PacketTooBig);
  ip.ident = next_ident_++;

  const std::size_t total = ipv4::kMinHeaderLen + ip.payload_len;
  Bytes whole(kEthHeadroom + total);
  {
    auto view = ipv4::ViewMut::unchecked(std::span(whole).subspan(kEthHeadroom));
    ip.emit(view);
    fill(std::span(whole).subspan(kEthHeadroom + ipv4::kMinHeaderLen));
  }
  if (total <= config_.mtu) return route(now, ip.dst, std::move(whole));
  if (ip.dont_frag) return drop(now, DropReason::PacketTooBig, std::to_string(total) + " > mtu " + std::to_string(config_.mtu));

  // RFC 791 §3.2 "An Example Fragmentation Procedure": every fragment but the last carries a
  // multiple of 8 data octets; each gets a copy of the header with its offset and MF flag.
  const std::size_t per_fragment = (config_.mtu - ipv4::kMinHeaderLen) / 8 * 8;
  const std::span<const std::byte> data = std::span(whole).subspan(kEthHeadroom + ipv4::kMinHeaderLen);
  for (std::size_t offset = 0; offset < data.size(); offset += per_fragment) {
    const std::size_t len = std::min(per_fragment, data.size() - offset);
    ipv4::Repr frag = ip;
    frag.payload_len = len;
    frag.frag_offset = static_cast<std::uint16_t>(offset);
    frag.more_frags = offset + len < data.size();
    Bytes frame(kEthHeadroom + ipv4::kMinHeaderLen + len);
    auto view = ipv4::ViewMut::unchecked(std::span(frame).subspan(kEthHeadroom));
    frag.emit(view);
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(offset), len,
                frame.begin() + static_cast<std::ptrdiff_t>(kEthHeadroom + ipv4::kMinHeaderLen));
    route(now, ip.dst, std::move(frame));
  }
}

void Interface::send_icmp(Instant now, Ipv4Address dst, const icmpv4::Repr& icmp, std::optional<Ipv4Address> src) {
  ipv4::Repr ip{.src = src.value_or(Ipv4Address::any()),
                .dst = dst,
                .protocol = wire::IpProtocol::Icmp,
                .payload_len = icmp.buffer_len(),
                .ttl = config_.default_ttl};
  send_ipv4(now, ip, [&icmp](std::span<std::byte> payload) {
    auto view = icmpv4::ViewMut::unchecked(payload);
    icmp.emit(view);
  });
}

void Interface::send_icmp_error(Instant now, const ipv4::Repr& offending, std::span<const std::byte> raw_packet,
                                icmpv4::UnreachableCode code) {
  // RFC 1122 §3.2.2: never about an ICMP error, a fragment other than the first, or a datagram
  // to or from a broadcast/multicast address (the callers filter the destination).
  if (offending.frag_offset != 0 || offending.src.is_unspecified()) return;
  auto raw = ipv4::View::checked(raw_packet);
  if (!raw) return;
  const std::span<const std::byte> quoted_data =
      raw->payload().first(std::min(raw->payload().size(), config_.icmp_error_quote));
  icmpv4::Repr error{icmpv4::DestUnreachable{code, 0, offending, quoted_data}};
  std::get<icmpv4::DestUnreachable>(error.message).header.payload_len = raw->payload().size();
  send_icmp(now, offending.src, error);
}

// =============================================================================================
// Timers and the sockets' output
// =============================================================================================

void Interface::poll(Instant now) {
  const auto due = arp_.poll(now);
  for (const auto& [ip, attempt] : due.retry) {
    if (!address_) continue;
    send_arp(arp::Repr{.operation = arp::Operation::Request,
                       .sender_mac = config_.mac,
                       .sender_ip = address_->address,
                       .target_mac = MacAddress{},
                       .target_ip = ip},
             MacAddress::broadcast());
    emit(now, event::ArpRequestSent{ip, attempt});
  }
  for (const auto& [ip, dropped] : due.failed) {
    for (std::size_t i = 0; i < dropped; ++i) drops_.bump(DropReason::ArpUnresolved);
    emit(now, event::ArpFailed{ip, config_.arp.max_tries, dropped});
    // RFC 1122 §2.3.2.2 does not require an ICMP error to ourselves; our sockets time out on
    // their own (ping prints the loss; TCP retransmits and resolves again).
  }
  for (std::size_t i = reassembler_.poll(now); i > 0; --i) drop(now, DropReason::FragmentTimeout);

  icmp_.dispatch([&](const socket::IcmpEchoLayer::Outgoing& out) {
    if (!address_) return drop(now, DropReason::NoAddress);
    send_icmp(now, out.dst, icmpv4::Repr{icmpv4::EchoRequest{out.ident, out.seq, out.data}});
  });
  tcp_->dispatch(now, [&](const socket::TcpLayer::Outgoing& out) {
    // RFC 9293 §3.7.2 / RFC 1191: TCP segments carry DF; the MSS keeps them within the MTU.
    ipv4::Repr ip{.src = out.src,
                  .dst = out.dst,
                  .protocol = wire::IpProtocol::Tcp,
                  .payload_len = out.repr.buffer_len(),
                  .ttl = config_.default_ttl,
                  .dont_frag = true};
    send_ipv4(now, ip, [&](std::span<std::byte> payload) {
      auto view = wire::tcp::ViewMut::unchecked(payload);
      out.repr.emit(view, out.src, out.dst, tcp_checksum_partial_ ? wire::tcp::ChecksumMode::Partial : wire::tcp::ChecksumMode::Full);
    });
  });
  udp_.dispatch([&](const socket::UdpLayer::Outgoing& out) {
    const Ipv4Address src = out.src ? *out.src : (address_ ? address_->address : Ipv4Address::any());
    if (!out.src && !address_) return drop(now, DropReason::NoAddress);
    ipv4::Repr ip{.src = src,
                  .dst = out.to.addr,
                  .protocol = wire::IpProtocol::Udp,
                  .payload_len = udp::kHeaderLen + out.payload.size(),
                  .ttl = config_.default_ttl};
    const udp::Repr repr{.src_port = out.from.port, .dst_port = out.to.port};
    send_ipv4(now, ip, [&](std::span<std::byte> payload) {
      auto view = udp::ViewMut::unchecked(payload);
      repr.emit(view, src, out.to.addr, out.payload);
    });
  });
}

std::optional<Instant> Interface::poll_at(Instant now) const {
  if (udp_.has_pending_output() || icmp_.has_pending_output()) return now;
  std::optional<Instant> at = arp_.poll_at();
  if (auto t = tcp_->poll_at(); t && (!at || *t < *at)) at = t;
  if (auto r = reassembler_.poll_at(); r && (!at || *r < *at)) at = r;
  return at;
}

std::vector<std::pair<std::string, std::uint64_t>> Interface::stats() const {
  std::vector<std::pair<std::string, std::uint64_t>> out{
      {"eth.frames_in", frames_in_},
      {"eth.frames_out", frames_out_},
      {"icmp.echo_requests_answered", echo_requests_answered_},
      {"arp.cache_entries", arp_.size()},
  };
  for (auto& kv : udp_.stats()) out.push_back(std::move(kv));
  for (auto& kv : tcp_->stats()) out.push_back(std::move(kv));
  out.emplace_back("tcp.sockets", tcp_->socket_count());
  for (auto& kv : drops_.snapshot()) out.emplace_back("drop." + kv.first, kv.second);
  return out;
}

}  // namespace stack::iface
